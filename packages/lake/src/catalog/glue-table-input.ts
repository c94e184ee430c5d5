import type { StorageDescriptor, Table, TableInput } from '@aws-sdk/client-glue';
import { storageOf } from './athena-ddl.js';
import { CatalogError } from './errors.js';
import { columnFromHiveType, type TableDefinition, type TableFormat, withCatalogNames } from './table.js';

// A table definition as Glue's TableInput, and a Glue table as a definition.

// Table parameters the catalog writes; any other parameter of an existing table is kept on update.
const MANAGED = [
  'EXTERNAL',
  'classification',
  'typeOfData',
  'objectCount',
  'sizeKey',
  'recordCount',
  'compressionType',
  'skip.header.line.count',
];

/** Glue reads tables and partitions from S3 only: `CATALOG_INVALID` for any other location. */
export function requireS3(location: string, what: string): void {
  if (!/^s3:\/\/[^/]+/.test(location)) {
    throw new CatalogError(
      `Glue needs an s3:// location for ${what}, got ${JSON.stringify(location)} (crawl with the \`location\` option to record the S3 location)`,
      { code: 'CATALOG_INVALID' },
    );
  }
}

function tableParameters(definition: TableDefinition): Record<string, string> {
  const storage = storageOf(definition.format);
  const parameters: Record<string, string> = {
    EXTERNAL: 'TRUE',
    classification: storage.classification,
    typeOfData: 'file',
    objectCount: String(definition.files),
    sizeKey: String(definition.bytes),
  };
  if (definition.rows !== undefined) parameters.recordCount = String(definition.rows);
  if (
    definition.format !== 'parquet' &&
    definition.compression !== undefined &&
    definition.compression !== 'mixed'
  ) {
    parameters.compressionType = definition.compression;
  }
  if (definition.format === 'csv') parameters['skip.header.line.count'] = '1';
  return parameters;
}

function storageDescriptor(definition: TableDefinition): StorageDescriptor {
  const storage = storageOf(definition.format);
  const serdeParameters: Record<string, string> =
    definition.format === 'parquet' ? { 'serialization.format': '1' } : { ...storage.serdeParameters };
  return {
    Columns: definition.columns.map((c) =>
      c.comment ? { Name: c.name, Type: c.type, Comment: c.comment } : { Name: c.name, Type: c.type },
    ),
    Location: definition.location,
    InputFormat: storage.input,
    OutputFormat: storage.output,
    Compressed: definition.compression === 'gzip',
    NumberOfBuckets: -1,
    SerdeInfo: { SerializationLibrary: storage.serde, Parameters: serdeParameters },
    StoredAsSubDirectories: false,
    Parameters: { classification: storage.classification },
  };
}

/**
 * The `TableInput` of CreateTable / UpdateTable for a definition: an `EXTERNAL_TABLE` with the
 * format's SerDe and input/output formats, the definition's columns and partition keys, its S3
 * location, and the parameters Glue's crawler sets (`classification`, `objectCount`, `sizeKey`,
 * `recordCount`, `compressionType`). Parameters of `keep` that the catalog does not manage
 * (e.g. partition projection set by hand) are kept. Column and partition key names are
 * lowercased (`withCatalogNames`), as Glue's crawler writes them.
 */
export function toGlueTableInput(input: TableDefinition, keep: Record<string, string> = {}): TableInput {
  requireS3(input.location, `table ${input.name}`);
  const definition = withCatalogNames(input);
  const kept = Object.fromEntries(Object.entries(keep).filter(([k]) => !MANAGED.includes(k)));
  return {
    Name: definition.name,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { ...kept, ...tableParameters(definition) },
    PartitionKeys: definition.partitionKeys.map((k) => ({ Name: k.name, Type: k.type })),
    StorageDescriptor: storageDescriptor(definition),
  };
}

function formatOf(table: Table): TableFormat {
  const classification =
    table.Parameters?.classification ?? table.StorageDescriptor?.Parameters?.classification;
  if (classification === 'parquet') return 'parquet';
  if (classification === 'json') return 'ndjson';
  if (classification === 'csv') return 'csv';
  const serde = table.StorageDescriptor?.SerdeInfo?.SerializationLibrary?.toLowerCase() ?? '';
  if (serde.includes('parquet')) return 'parquet';
  if (serde.includes('json')) return 'ndjson';
  if (serde.includes('csv')) return 'csv';
  throw new CatalogError(`Glue table ${table.DatabaseName}.${table.Name} is neither Parquet, JSON nor CSV`, {
    code: 'CATALOG_FAILED',
    context: { table: table.Name },
  });
}

/** A Glue table as a {@link TableDefinition} (every column nullable: Glue does not record it). */
export function fromGlueTable(table: Table, database: string): TableDefinition {
  const sd = table.StorageDescriptor ?? {};
  const parameters = table.Parameters ?? {};
  const location = sd.Location ?? '';
  const definition: TableDefinition = {
    name: table.Name ?? '',
    database,
    location: location === '' || location.endsWith('/') ? location : `${location}/`,
    format: formatOf(table),
    columns: (sd.Columns ?? []).map((c) =>
      columnFromHiveType(c.Name ?? '', c.Type ?? 'string', true, c.Comment),
    ),
    partitionKeys: (table.PartitionKeys ?? []).map((k) => ({ name: k.Name ?? '', type: k.Type ?? 'string' })),
    partitions: [],
    conflicts: [],
    files: Number(parameters.objectCount ?? 0) || 0,
    bytes: Number(parameters.sizeKey ?? 0) || 0,
    updatedAt: (table.UpdateTime ?? table.CreateTime ?? new Date(0)).toISOString(),
  };
  if (parameters.recordCount !== undefined && Number.isFinite(Number(parameters.recordCount)))
    definition.rows = Number(parameters.recordCount);
  if (parameters.compressionType === 'gzip' || parameters.compressionType === 'none')
    definition.compression = parameters.compressionType;
  return definition;
}
