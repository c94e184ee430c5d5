import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hiveIdentifier, hiveString, toAthenaDdl } from '../../src/catalog/athena-ddl.js';
import type { TableDefinition } from '../../src/catalog/table.js';

const golden = (name: string) =>
  readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8').replace(/\n$/, '');

/** The processed zone's sensors table: Parquet, hive `dt=/hour=` folders. */
const processed: TableDefinition = {
  name: 'sensors',
  database: 'processed',
  location: 's3://tributary-processed/sensors/',
  format: 'parquet',
  columns: [
    { name: 'id', type: 'string', kind: 'string', nullable: false, comment: "the reading's id" },
    { name: 'sensor_id', type: 'string', kind: 'string', nullable: false },
    { name: 'type', type: 'string', kind: 'string', nullable: false },
    { name: 'value', type: 'double', kind: 'double', nullable: false },
    { name: 'price', type: 'decimal(12,4)', kind: 'decimal', nullable: true, precision: 12, scale: 4 },
    { name: 'tags', type: 'array<string>', kind: 'list', nullable: true, element: { kind: 'string' } },
    { name: 'timestamp', type: 'timestamp', kind: 'timestamp', nullable: false },
  ],
  partitionKeys: [
    { name: 'dt', type: 'string' },
    { name: 'hour', type: 'string' },
  ],
  partitions: [
    { values: ['2026-11-23', '10'], location: 's3://tributary-processed/sensors/dt=2026-11-23/hour=10/' },
    { values: ['2026-11-22', '23'], location: 's3://tributary-processed/sensors/dt=2026-11-22/hour=23/' },
  ],
  conflicts: [],
  files: 2,
  bytes: 2048,
  rows: 20,
  updatedAt: '2026-11-23T11:00:00.000Z',
};

/** The raw zone's sensors table as Firehose writes it: gzipped NDJSON in `YYYY/MM/DD/HH` folders. */
const raw: TableDefinition = {
  name: 'sensors',
  database: 'raw',
  location: 's3://tributary-raw/sensors/',
  format: 'ndjson',
  compression: 'gzip',
  columns: [
    { name: 'id', type: 'string', kind: 'string', nullable: false },
    { name: 'sensorId', type: 'string', kind: 'string', nullable: false },
    { name: 'value', type: 'double', kind: 'double', nullable: false },
    { name: 'timestamp', type: 'string', kind: 'string', nullable: false },
    { name: 'meta', type: 'struct<fw:string,rev:bigint>', kind: 'struct', nullable: true },
  ],
  partitionKeys: ['year', 'month', 'day', 'hour'].map((name) => ({ name, type: 'string' })),
  partitions: [
    { values: ['2026', '11', '23', '10'], location: 's3://tributary-raw/sensors/2026/11/23/10/' },
    { values: ['2025', '12', '31', '23'], location: 's3://tributary-raw/sensors/2025/12/31/23/' },
  ],
  conflicts: [],
  files: 3,
  bytes: 4096,
  updatedAt: '2026-11-23T11:00:00.000Z',
};

describe('toAthenaDdl', () => {
  it('declares a Parquet table with hive partitions', () => {
    expect(toAthenaDdl(processed)).toBe(golden('athena-parquet-hive.sql'));
  });

  it('adds date and integer projections for dt/hour, without a location template for hive folders', () => {
    expect(toAthenaDdl(processed, { projection: true })).toBe(golden('athena-parquet-hive-projection.sql'));
  });

  it('declares a gzipped JSON table in Firehose folders', () => {
    expect(toAthenaDdl(raw)).toBe(golden('athena-firehose-json.sql'));
  });

  it('projects Firehose folders with integer keys and a storage location template', () => {
    expect(toAthenaDdl(raw, { projection: true })).toBe(golden('athena-firehose-json-projection.sql'));
  });

  it('projects the year key from the first year seen to NOW, so later years are queried', () => {
    const onlyThisYear: TableDefinition = {
      ...raw,
      partitions: [
        { values: ['2026', '11', '23', '10'], location: 's3://tributary-raw/sensors/2026/11/23/10/' },
      ],
    };

    const ddl = toAthenaDdl(onlyThisYear, { projection: true });

    // Athena takes NOW only in a date projection's range; `yyyy` is a java.time pattern.
    expect(ddl).toContain(`  'projection.year.type'='date',
  'projection.year.format'='yyyy',
  'projection.year.range'='2026,NOW',
  'projection.year.interval'='1',
  'projection.year.interval.unit'='YEARS',
`);
    expect(ddl).not.toMatch(/'projection\.year\.range'='\d{4},\d{4}'/);
  });

  it('projects one joined datehour key as Athena documents for Firehose', () => {
    const datehour: TableDefinition = {
      ...raw,
      partitionKeys: [{ name: 'datehour', type: 'string' }],
      partitions: [
        { values: ['2026/11/23/10'], location: 's3://tributary-raw/sensors/2026/11/23/10/' },
        { values: ['2026/11/22/08'], location: 's3://tributary-raw/sensors/2026/11/22/08/' },
      ],
    };

    const ddl = toAthenaDdl(datehour, { projection: true });

    expect(ddl).toContain(`  'projection.datehour.type'='date',
  'projection.datehour.format'='yyyy/MM/dd/HH',
  'projection.datehour.range'='2026/11/22/08,NOW',
  'projection.datehour.interval'='1',
  'projection.datehour.interval.unit'='HOURS',
  'storage.location.template'='s3://tributary-raw/sensors/\${datehour}/'`);
  });

  it('uses injected projections for other keys, and takes overrides', () => {
    const byType: TableDefinition = {
      ...processed,
      partitionKeys: [{ name: 'type', type: 'string' }],
      columns: processed.columns.filter((c) => c.name !== 'type'),
      partitions: [
        { values: ['temperature'], location: 's3://tributary-processed/sensors/type=temperature/' },
      ],
    };

    expect(toAthenaDdl(byType, { projection: true })).toContain(`'projection.type.type'='injected'\n)`);
    expect(
      toAthenaDdl(byType, {
        projection: { keys: { type: { type: 'enum', values: ['temperature', 'power_factor'] } } },
      }),
    ).toContain(`'projection.type.type'='enum',\n  'projection.type.values'='temperature,power_factor'`);
  });

  it('declares CSV with OpenCSVSerde and skips the header row', () => {
    const ddl = toAthenaDdl({
      ...processed,
      format: 'csv',
      partitionKeys: [],
      partitions: [],
      database: undefined,
    });

    expect(ddl).toContain('CREATE EXTERNAL TABLE IF NOT EXISTS `sensors` (');
    expect(ddl).toContain(`ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES (
  'separatorChar'=',',
  'quoteChar'='"',
  'escapeChar'='\\\\'
)`);
    expect(ddl).toContain(`'skip.header.line.count'='1'`);
  });

  it('refuses a projection it cannot derive a range for', () => {
    expect(() => toAthenaDdl({ ...processed, partitions: [] }, { projection: true })).toThrow(
      expect.objectContaining({ code: 'CATALOG_INVALID' }),
    );
  });
});

describe('hiveIdentifier and hiveString', () => {
  it('backquote identifiers with backquotes doubled, and escape literals the way Hive reads them', () => {
    expect(hiveIdentifier('we`ird')).toBe('`we``ird`');
    expect(hiveString("it's a \\ path")).toBe("'it\\'s a \\\\ path'");
  });
});

describe('toAthenaDdl with hostile definitions', () => {
  const withColumn = (column: Partial<TableDefinition['columns'][number]>): TableDefinition => ({
    ...processed,
    columns: [{ name: 'c', type: 'string', kind: 'string', nullable: true, ...column }],
  });
  const refusal = (definition: TableDefinition, options = {}) => {
    try {
      toAthenaDdl(definition, options);
    } catch (error) {
      return error as { name: string; code: string; message: string };
    }
    throw new Error('expected toAthenaDdl to refuse');
  };

  it.each([
    "string) LOCATION 's3://evil/'; DROP TABLE y; --",
    'string COMMENT "x"',
    'drop',
    'int(3)',
    'decimal(39,2)',
    'decimal(10,11)',
    'decimal(1,2,3)',
    'varchar(0)',
    'varchar(65536)',
    'char(256)',
    'decimal(99999999999999999999,0)',
    'map<array<int>,string>',
    'struct<>',
    'uniontype<int,string>',
    'array<string>>',
  ])('refuses the column type %j with a typed error', (type) => {
    const error = refusal(withColumn({ type }));

    expect(error).toMatchObject({ name: 'CatalogError', code: 'CATALOG_INVALID' });
  });

  it('refuses the same in a partition key type', () => {
    expect(
      refusal({
        ...processed,
        partitionKeys: [
          { name: 'dt', type: "string) LOCATION 's3://evil/'; --" },
          { name: 'hour', type: 'string' },
        ],
      }),
    ).toMatchObject({ code: 'CATALOG_INVALID' });
  });

  it('writes every type from its parsed form, struct field names backquoted when they need it', () => {
    const ddl = toAthenaDdl(
      withColumn({
        type: 'STRUCT< a : INTEGER, `b c` : ARRAY<Decimal(10, 2)>, `x);`:map<string,varchar(5)> >',
      }),
    );

    expect(ddl).toContain('  `c` struct<a:int,`b c`:array<decimal(10,2)>,`x);`:map<string,varchar(5)>>\n)');
  });

  it.each([
    ['a column name', withColumn({ name: 'a\0b' })],
    ['an empty column name', withColumn({ name: '' })],
    ['a column name with a newline', withColumn({ name: 'a\nb' })],
    ['a column name with a lone surrogate', withColumn({ name: 'a\uD800' })],
    ['a struct field name with NUL', withColumn({ type: 'struct<`a\0`:int>' })],
    ['a comment with NUL', withColumn({ comment: 'x\0y' })],
    ['a comment with a lone surrogate', withColumn({ comment: '\uDC00' })],
    ['a location with NUL', { ...processed, location: 's3://b/x\0/' }],
    ['a location that is not a string', { ...processed, location: 3 as unknown as string }],
  ])('refuses %s', (_what, definition) => {
    expect(refusal(definition)).toMatchObject({ code: 'CATALOG_INVALID' });
  });

  it.each([
    [{ type: 'date', format: 'yyyy-MM-dd', range: '2026-01-01,NOW', interval: 1.5 }],
    [{ type: 'date', format: 'yyyy-MM-dd', range: '2026-01-01,NOW', unit: "DAYS'; --" }],
    [{ type: 'date', format: '', range: '2026-01-01,NOW' }],
    [{ type: 'integer', range: '0,23', digits: -1 }],
    [{ type: 'enum', values: ['a', 3] }],
    [{ type: "injected'); DROP TABLE y; --" }],
  ])('refuses the projection %o', (projection) => {
    expect(
      refusal(processed, { projection: { keys: { dt: projection, hour: { type: 'injected' } } } }),
    ).toMatchObject({ code: 'CATALOG_INVALID' });
  });

  it('keeps quotes, backslashes and newlines of comments and locations inside their literals', () => {
    const ddl = toAthenaDdl({
      ...withColumn({ comment: "it's \\'; DROP TABLE y; --\nnext" }),
      location: "s3://b/it's\\/",
    });

    expect(ddl).toContain("COMMENT 'it\\'s \\\\\\'; DROP TABLE y; --\\nnext'");
    expect(ddl).toContain("LOCATION 's3://b/it\\'s\\\\/'");
  });
});
