import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateDatabaseCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { defineSchema, field } from '@tributary/core';
import { type MotoServer, startMotoServer } from '@tributary/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDataset, writeDataset } from '../../src/dataset.js';
import { type IcebergCatalog, StorageCatalog } from '../../src/iceberg/catalog.js';
import { IcebergError } from '../../src/iceberg/errors.js';
import { GlueIcebergCatalog } from '../../src/iceberg/glue-catalog.js';
import { byHour } from '../../src/partitions.js';
import { S3Storage } from '../../src/s3-storage.js';

// The lake's Iceberg tables on moto_server's S3 and Glue, read back by boto3 and by pyiceberg's
// own Glue catalog (and StaticTable for the storage catalog), which we did not write.
//
// What moto 5.2.5 does: S3 PutObject with If-None-Match: * answers 412 for an existing key, so
// StorageCatalog's exclusive version files work on it. Glue UpdateTable ignores VersionId (a stale
// or unknown id is accepted): the race tests below prove GlueIcebergCatalog's own re-check of the
// base before UpdateTable, not Glue's VersionId guard (real Glue enforces it; its refusal is
// covered by the unit tests).

const PYTHON = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../spark/.venv/bin/python');
const BUCKET = 'lake-iceberg';
const DATABASE = 'curated';

const quoteV1 = defineSchema({
  id: field.string(),
  symbol: field.string(),
  price: field.decimal(18, 6),
  timestamp: field.timestamp(),
});
const quoteV2 = defineSchema({
  id: field.string(),
  symbol: field.string(),
  price: field.decimal(18, 6),
  timestamp: field.timestamp(),
  volume: field.double().nullable(),
});

interface Quote {
  id: string;
  symbol: string;
  price: string;
  timestamp: Date;
  volume?: number | null;
}

function quotes(prefix: string, hours: number[], count: number, volume?: number): Quote[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    symbol: ['BTC', 'ETH', 'SOL'][i % 3] as string,
    price: `${100 + i}.${String(i * 7).padStart(6, '0')}`,
    timestamp: new Date(Date.UTC(2026, 10, 23, hours[i % hours.length] as number, i % 60, 5)),
    ...(volume === undefined ? {} : { volume: volume + i }),
  }));
}

/** A row as both sides print it: ISO time in µs precision, decimal as text, null volume. */
function row(q: Quote): string {
  return JSON.stringify([
    q.id,
    q.symbol,
    Number(q.price).toFixed(6),
    q.timestamp.toISOString(),
    q.volume ?? null,
  ]);
}

const sortedRows = (qs: readonly Quote[]) => qs.map(row).sort();

// One Python process answers a list of questions (pyiceberg is slow to import).
const READER = `
import json, sys
from datetime import timezone
import boto3
from pyiceberg.catalog import load_catalog
from pyiceberg.table import StaticTable

ep = sys.argv[1]
questions = json.loads(sys.argv[2])
creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
glue = boto3.client("glue", endpoint_url=ep, **creds)
io = {"s3.endpoint": ep, "s3.access-key-id": "testing", "s3.secret-access-key": "testing", "s3.region": "us-east-1"}
catalog = load_catalog("glue", **{
    "type": "glue", "glue.endpoint": ep, "client.access-key-id": "testing",
    "client.secret-access-key": "testing", "client.region": "us-east-1", **io,
})

def rows(arrow):
    out = []
    for r in arrow.to_pylist():
        out.append(json.dumps([
            r["id"], r["symbol"], f"{r['price']:.6f}",
            r["timestamp"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{r['timestamp'].microsecond // 1000:03d}Z",
            r.get("volume"),
        ], separators=(",", ":")))
    return sorted(out)

def describe(table, snapshot_ids):
    m = table.metadata
    return {
        "metadata_location": table.metadata_location,
        "rows": rows(table.scan().to_arrow()),
        "schema": [[f.field_id, f.name, str(f.field_type), f.required] for f in table.schema().fields],
        "spec": [[f.name, str(f.transform), f.source_id] for f in table.spec().fields],
        "snapshots": [[str(s.snapshot_id), s.summary.operation.value] for s in m.snapshots],
        "at": {sid: rows(table.scan(snapshot_id=int(sid)).to_arrow()) for sid in snapshot_ids},
    }

answers = []
for q in questions:
    if q["kind"] == "append":
        import pyarrow as pa
        from datetime import datetime
        from decimal import Decimal
        table = catalog.load_table(f"{q['database']}.{q['name']}")
        records = [{**r, "price": Decimal(r["price"]), "timestamp": datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))} for r in q["rows"]]
        table.append(pa.Table.from_pylist(records, schema=table.schema().as_arrow()))
        answers.append({"metadata_location": table.metadata_location})
    elif q["kind"] == "glue":
        t = glue.get_table(DatabaseName=q["database"], Name=q["name"])["Table"]
        parts = glue.get_partitions(DatabaseName=q["database"], TableName=q["name"])["Partitions"]
        answers.append({
            "table_type": t.get("TableType"),
            "parameters": t.get("Parameters", {}),
            "columns": [[c["Name"], c["Type"]] for c in t["StorageDescriptor"]["Columns"]],
            "location": t["StorageDescriptor"].get("Location"),
            "partition_keys": t.get("PartitionKeys", []),
            "partitions": len(parts),
            "pyiceberg": describe(catalog.load_table(f"{q['database']}.{q['name']}"), q.get("at", [])),
        })
    else:
        answers.append(describe(StaticTable.from_metadata(q["location"], properties=io), q.get("at", [])))
print(json.dumps(answers))
`;

type Described = {
  metadata_location: string;
  rows: string[];
  schema: [number, string, string, boolean][];
  spec: [string, string, number][];
  snapshots: [string, string][];
  at: Record<string, string[]>;
};
type GlueAnswer = {
  table_type: string;
  parameters: Record<string, string>;
  columns: [string, string][];
  location: string;
  partition_keys: unknown[];
  partitions: number;
  pyiceberg: Described;
};
type Question =
  | { kind: 'glue'; database: string; name: string; at?: string[] }
  | { kind: 'append'; database: string; name: string; rows: unknown[] }
  | { kind: 'static'; location: string; at?: string[] };

async function ask(questions: Question[]): Promise<unknown[]> {
  const { stdout } = await promisify(execFile)(
    PYTHON,
    ['-c', READER, moto.endpoint, JSON.stringify(questions)],
    {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    },
  );
  return JSON.parse(stdout) as unknown[];
}

/** Python's JSON spells numbers its own way (`1000.0`): print its rows as JavaScript does. */
function fromPython(rows: string[]): string[] {
  return rows.map((r) => {
    const [id, symbol, price, at, volume] = JSON.parse(r) as [string, string, string, string, number | null];
    return JSON.stringify([id, symbol, price, at, volume]);
  });
}

/**
 * A catalog that holds its first commit until `gate` resolves (so another writer commits in
 * between) and counts the conflicts it reports to the writer.
 */
function gated(inner: IcebergCatalog, gate: Promise<unknown>): IcebergCatalog & { conflicts: number } {
  let first = true;
  const wrapper = {
    storage: inner.storage,
    kind: inner.kind,
    conflicts: 0,
    load: (table: string) => inner.load(table),
    async commit(...args: Parameters<IcebergCatalog['commit']>) {
      if (first) {
        first = false;
        await gate;
      }
      try {
        return await inner.commit(...args);
      } catch (err) {
        if (err instanceof IcebergError && err.code === 'ICEBERG_COMMIT_CONFLICT') wrapper.conflicts++;
        throw err;
      }
    },
  };
  return wrapper;
}

let moto: MotoServer;
let s3: S3Client;
let glue: GlueClient;
let storage: S3Storage;

beforeAll(async () => {
  moto = await startMotoServer();
  const connection = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials };
  s3 = new S3Client({ ...connection, forcePathStyle: true });
  glue = new GlueClient(connection);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: DATABASE } }));
  storage = new S3Storage({ client: s3, bucket: BUCKET, prefix: 'curated/' });
});

afterAll(async () => {
  s3?.destroy();
  glue?.destroy();
  await moto?.stop();
});

const catalogOf = () => new GlueIcebergCatalog({ client: glue, database: DATABASE, storage });

describe('S3Storage.putIfAbsent on moto_server', () => {
  it('creates a key once; a second conditional write is refused (412) and the first content stays', async () => {
    const first = await storage.putIfAbsent('probe/v1.metadata.json', 'first');
    const second = await storage.putIfAbsent('probe/v1.metadata.json', 'second');

    expect(first).toMatchObject({ key: 'probe/v1.metadata.json', size: 5 });
    expect(second).toBeUndefined();
    expect(Buffer.from(await storage.getBytes('probe/v1.metadata.json')).toString()).toBe('first');
  });
});

describe('StorageCatalog on S3 (moto_server)', () => {
  it('refuses a second commit of the same version with ICEBERG_COMMIT_CONFLICT', async () => {
    await writeDataset(quotes('s', [10], 3), {
      storage,
      table: 'storage/conflict',
      schema: quoteV1,
      partitionBy: byHour('timestamp'),
      tableFormat: 'iceberg',
    });
    const catalog = new StorageCatalog(storage);
    const base = await catalog.load('storage/conflict');
    if (!base) throw new Error('no table');

    const won = await catalog.commit('storage/conflict', base, base.metadata);
    const lost = await catalog.commit('storage/conflict', base, base.metadata).catch((err: unknown) => err);

    expect(won.version).toBe('2');
    expect(lost).toBeInstanceOf(IcebergError);
    expect((lost as IcebergError).code).toBe('ICEBERG_COMMIT_CONFLICT');
  });

  it('lands both of two racing appends (one retries) and pyiceberg reads them from S3', async () => {
    const table = 'storage/race';
    const a = quotes('a', [10, 11], 5);
    const b = quotes('b', [11, 12], 4);
    const options = {
      storage,
      table,
      schema: quoteV1,
      partitionBy: byHour('timestamp'),
      tableFormat: 'iceberg' as const,
    };
    await writeDataset([], options);
    let releaseB: (v?: unknown) => void = () => {};
    const bCatalog = gated(new StorageCatalog(storage), new Promise((r) => (releaseB = r)));

    const writeB = writeDataset(b, { ...options, catalog: bCatalog });
    const resultA = await writeDataset(a, options);
    releaseB();
    const resultB = await writeB;
    const current = await new StorageCatalog(storage).load(table);
    const [seen] = (await ask([{ kind: 'static', location: current?.metadataLocation ?? '' }])) as [
      Described,
    ];

    expect(bCatalog.conflicts).toBe(1);
    expect(resultB.version).toBe(resultA.version + 1);
    expect(fromPython(seen.rows)).toEqual(sortedRows([...a, ...b]));
  });
});

describe('GlueIcebergCatalog on moto_server', () => {
  const table = 'coinmarketcap/quote';
  const a = quotes('a', [10, 11], 6);
  const b = quotes('b', [11, 12], 6);
  const c = quotes('c', [11], 2);
  const d = quotes('d', [13], 3, 1000);
  const hourOf = (q: Quote) => q.timestamp.getUTCHours();
  const expected = [...a, ...b].filter((q) => hourOf(q) !== 11).concat(c, d);
  const results: { snapshotId: string; metadataLocation: string; version: number }[] = [];
  // A function: the storage exists only once the suite's beforeAll ran.
  const options = () => ({
    storage,
    table,
    partitionBy: byHour('timestamp'),
    tableFormat: 'iceberg' as const,
  });

  /** What a write committed, and the metadata file Glue points at after it. */
  async function committed(write: ReturnType<typeof writeDataset>) {
    const { snapshotId = '', version } = await write;
    const loaded = await catalogOf().load(table);
    return { snapshotId, version, metadataLocation: loaded?.metadataLocation ?? '' };
  }

  beforeAll(async () => {
    const catalog = catalogOf();
    results.push(await committed(writeDataset(a, { ...options(), schema: quoteV1, catalog })));
    results.push(await committed(writeDataset(b, { ...options(), schema: quoteV1, catalog })));
    results.push(
      await committed(
        writeDataset(c, { ...options(), schema: quoteV1, catalog, mode: 'overwrite_partitions' }),
      ),
    );
    results.push(await committed(writeDataset(d, { ...options(), schema: quoteV2, catalog })));
  });

  it('registers an ICEBERG table pointing at the last metadata file, with the one before as previous', async () => {
    const [glueSeen] = (await ask([{ kind: 'glue', database: DATABASE, name: 'coinmarketcap_quote' }])) as [
      GlueAnswer,
    ];

    expect(glueSeen.table_type).toBe('EXTERNAL_TABLE');
    expect(glueSeen.parameters).toMatchObject({
      table_type: 'ICEBERG',
      metadata_location: results[3]?.metadataLocation,
      previous_metadata_location: results[2]?.metadataLocation,
    });
    expect(results.map((r) => r.metadataLocation)).toEqual(
      [0, 1, 2, 3].map((v) =>
        expect.stringMatching(
          new RegExp(`^s3://${BUCKET}/curated/${table}/metadata/0000${v}-[0-9a-f-]{36}\\.metadata\\.json$`),
        ),
      ),
    );
    expect(glueSeen.location).toBe(`s3://${BUCKET}/curated/${table}`);
    expect(glueSeen.columns).toEqual([
      ['id', 'string'],
      ['symbol', 'string'],
      ['price', 'decimal(18,6)'],
      ['timestamp', 'timestamp'],
      ['volume', 'double'],
    ]);
    expect(glueSeen.partition_keys).toEqual([]);
    expect(glueSeen.partitions).toBe(0);
  });

  it("is read by pyiceberg's Glue catalog with the same rows, schema, spec and snapshots, and time travels", async () => {
    const first = results[0]?.snapshotId ?? '';
    const second = results[1]?.snapshotId ?? '';
    const [glueSeen] = (await ask([
      { kind: 'glue', database: DATABASE, name: 'coinmarketcap_quote', at: [first, second] },
    ])) as [GlueAnswer];
    const ours: Quote[] = [];
    for await (const r of readDataset({
      storage,
      table,
      schema: quoteV2,
      tableFormat: 'iceberg',
      catalog: catalogOf(),
    }))
      ours.push(r as Quote);
    const py = glueSeen.pyiceberg;

    expect(py.metadata_location).toBe(results[3]?.metadataLocation);
    expect(fromPython(py.rows)).toEqual(sortedRows(expected));
    expect(sortedRows(ours)).toEqual(sortedRows(expected));
    expect(fromPython(py.at[first] ?? [])).toEqual(sortedRows(a));
    expect(fromPython(py.at[second] ?? [])).toEqual(sortedRows([...a, ...b]));
    expect(py.schema.map(([, name, type, required]) => [name, type, required])).toEqual([
      ['id', 'string', true],
      ['symbol', 'string', true],
      ['price', 'decimal(18, 6)', true],
      ['timestamp', 'timestamptz', true],
      ['volume', 'double', false],
    ]);
    expect(py.spec).toEqual([['timestamp_hour', 'hour', py.schema[3]?.[0]]]);
    expect(py.snapshots).toEqual([
      [first, 'append'],
      [second, 'append'],
      [results[2]?.snapshotId, 'overwrite'],
      [results[3]?.snapshotId, 'append'],
    ]);
  });

  it('lands both of two writers racing to create the table, then to append to it: the loser re-reads and commits again', async () => {
    const raceTable = 'coinmarketcap/race';
    const raceOptions = { ...options(), table: raceTable, schema: quoteV1 };
    const snapshots: string[] = [];
    const conflicts: number[] = [];
    const locations: (string | undefined)[] = [];
    const written: Quote[] = [];
    for (const round of ['create', 'append']) {
      const x = quotes(`x-${round}-`, [10], 4);
      const y = quotes(`y-${round}-`, [10, 11], 5);
      let releaseY: (v?: unknown) => void = () => {};
      const yCatalog = gated(catalogOf(), new Promise((r) => (releaseY = r)));

      const writeY = writeDataset(y, { ...raceOptions, catalog: yCatalog });
      const resultX = await writeDataset(x, { ...raceOptions, catalog: catalogOf() });
      locations.push((await catalogOf().load(raceTable))?.metadataLocation);
      releaseY();
      const resultY = await writeY;
      locations.push((await catalogOf().load(raceTable))?.metadataLocation);
      snapshots.push(resultX.snapshotId ?? '', resultY.snapshotId ?? '');
      conflicts.push(yCatalog.conflicts);
      written.push(...x, ...y);
    }
    const [glueSeen] = (await ask([{ kind: 'glue', database: DATABASE, name: 'coinmarketcap_race' }])) as [
      GlueAnswer,
    ];

    expect(conflicts).toEqual([1, 1]);
    expect(glueSeen.parameters.metadata_location).toBe(locations[3]);
    expect(glueSeen.parameters.previous_metadata_location).toBe(locations[2]);
    expect(fromPython(glueSeen.pyiceberg.rows)).toEqual(sortedRows(written));
    expect(glueSeen.pyiceberg.snapshots.map(([id]) => id)).toEqual(snapshots);
  });

  it('refuses a commit on a stale base even though moto accepts any VersionId', async () => {
    const catalog = catalogOf();
    const base = await catalog.load(table);
    if (!base) throw new Error('no table');
    await catalog.commit(table, base, base.metadata);

    const stale = await catalog.commit(table, base, base.metadata).catch((err: unknown) => err);

    expect(stale).toBeInstanceOf(IcebergError);
    expect((stale as IcebergError).code).toBe('ICEBERG_COMMIT_CONFLICT');
  });

  it("takes turns with pyiceberg's Glue catalog: pyiceberg appends on the lake's table, the lake appends on pyiceberg's commit", async () => {
    const mixed = 'coinmarketcap/mixed';
    const ours1 = quotes('m', [10, 11], 4);
    const theirs = quotes('p', [11], 3);
    const ours2 = quotes('n', [12], 2);
    await writeDataset(ours1, { ...options(), table: mixed, schema: quoteV1, catalog: catalogOf() });

    const [appended] = (await ask([
      {
        kind: 'append',
        database: DATABASE,
        name: 'coinmarketcap_mixed',
        rows: theirs.map((q) => ({ ...q, timestamp: q.timestamp.toISOString() })),
      },
    ])) as [{ metadata_location: string }];
    const afterTheirs = await catalogOf().load(mixed);
    await writeDataset(ours2, { ...options(), table: mixed, schema: quoteV1, catalog: catalogOf() });
    const afterOurs = await catalogOf().load(mixed);
    const [glueSeen] = (await ask([{ kind: 'glue', database: DATABASE, name: 'coinmarketcap_mixed' }])) as [
      GlueAnswer,
    ];
    const read: Quote[] = [];
    for await (const r of readDataset({ ...options(), table: mixed, schema: quoteV1, catalog: catalogOf() }))
      read.push(r as Quote);

    expect(afterTheirs?.metadataLocation).toBe(appended.metadata_location);
    expect(afterOurs?.metadataLocation).toMatch(/\/metadata\/00002-[0-9a-f-]{36}\.metadata\.json$/);
    expect(glueSeen.parameters.previous_metadata_location).toBe(appended.metadata_location);
    expect(fromPython(glueSeen.pyiceberg.rows)).toEqual(sortedRows([...ours1, ...theirs, ...ours2]));
    expect(sortedRows(read)).toEqual(sortedRows([...ours1, ...theirs, ...ours2]));
    expect(glueSeen.pyiceberg.snapshots.map(([, operation]) => operation)).toEqual([
      'append',
      'append',
      'append',
    ]);
  });
});
