import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The user's path: the tarballs `pnpm publish` would upload, installed with npm (not pnpm) into
// new projects outside the workspace, with only the peers a user adds for the entry points they
// use; type-checked with `tsc --strict` (library declarations checked too) under nodenext,
// bundler and node10 resolution, run with node, and linted by attw and publint.
//
// The packages are built and packed in a private copy of the workspace, so this test never
// rebuilds (and never reads half-rebuilt) the dist folders other tests use.

const execFileAsync = promisify(execFile);

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const packageNames = ['core', 'lake', 'streams', 'sensors', 'coinmarketcap', 'warehouse'] as const;
type PackageName = (typeof packageNames)[number];

/** A piece of a user's program: what it imports and one real call, whose result goes into `out`. */
interface Section {
  key: string;
  entries: string[];
  peers: string[];
  imports: string;
  body: string;
  expected: unknown;
}

// `out` collects each section's result; the program prints it as JSON. No top-level await, so the
// same source type-checks as a CommonJS module (node10) and as an ES module (nodenext, bundler).
const sections: Section[] = [
  {
    key: 'core',
    entries: ['@tributary/core'],
    peers: [],
    imports: `import { defineSchema, field } from '@tributary/core';`,
    body: `
  const readingSchema = defineSchema({ id: field.string(), value: field.double() });
  const good = readingSchema.validate({ id: 'a', value: 1.5 });
  const bad = readingSchema.validate({ id: 1, value: 'x' });
  out.core = { good: good.ok, bad: bad.ok ? 0 : bad.issues.length };`,
    expected: { good: true, bad: 2 },
  },
  {
    key: 'lake',
    entries: ['@tributary/lake'],
    peers: [],
    imports: `import { MemoryStorage, readDataset, writeDataset } from '@tributary/lake';`,
    body: `
  const storage = new MemoryStorage();
  await storage.put('notes/hello.txt', 'hello lake');
  const text = new TextDecoder().decode(await storage.getBytes('notes/hello.txt'));
  const rowSchema = defineSchema({ id: field.string(), value: field.double() });
  const written = await writeDataset(
    [{ id: 'a', value: 1 }, { id: 'b', value: 2 }, { id: 'c', value: 3.5 }],
    { storage, table: 'readings', schema: rowSchema },
  );
  const read: { id: string; value: number }[] = [];
  for await (const row of readDataset({ storage, table: 'readings', schema: rowSchema })) read.push(row);
  read.sort((x, y) => x.id.localeCompare(y.id));
  // Enough rows for a row group that the lake encodes on a worker thread (the built worker script
  // beside the package's chunks): a worker that cannot start would warn and encode inline.
  const workerWarnings: string[] = [];
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code === 'TRIBUTARY_PARQUET_WORKERS') workerWarnings.push(w.message);
  });
  const many = Array.from({ length: 20000 }, (_, i) => ({ id: 'reading-' + i + '-' + 'x'.repeat(24), value: i }));
  const manyWritten = await writeDataset(many, { storage, table: 'many', schema: rowSchema });
  let manyRead = 0;
  for await (const _row of readDataset({ storage, table: 'many', schema: rowSchema })) manyRead++;
  out.lake = { text, rows: written.rows, read, many: [manyWritten.rows, manyRead], workerWarnings };`,
    expected: {
      text: 'hello lake',
      rows: 3,
      read: [
        { id: 'a', value: 1 },
        { id: 'b', value: 2 },
        { id: 'c', value: 3.5 },
      ],
      many: [20000, 20000],
      workerWarnings: [],
    },
  },
  {
    key: 'lakeS3',
    entries: ['@tributary/lake/s3'],
    peers: ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'],
    imports: `import { S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, S3Storage } from '@tributary/lake/s3';`,
    body: `
  const s3 = new S3Client(offline);
  const s3Storage = new S3Storage({ client: s3, bucket: 'lake', prefix: 'raw/' });
  out.lakeS3 = { url: parseS3Url('s3://lake/raw/sensors/'), storage: s3Storage instanceof S3Storage };
  s3.destroy();`,
    expected: { url: { bucket: 'lake', prefix: 'raw/sensors/' }, storage: true },
  },
  {
    key: 'lakeGlue',
    entries: ['@tributary/lake/glue'],
    peers: ['@aws-sdk/client-glue'],
    imports: `import { GlueClient } from '@aws-sdk/client-glue';
import { GlueCatalog } from '@tributary/lake/glue';`,
    body: `
  const glue = new GlueClient(offline);
  out.lakeGlue = new GlueCatalog({ client: glue, database: 'tributary' }) instanceof GlueCatalog;
  glue.destroy();`,
    expected: true,
  },
  {
    key: 'streams',
    entries: ['@tributary/streams'],
    peers: [],
    imports: `import { aggregate, deaggregate } from '@tributary/streams';`,
    body: `
  const packed = aggregate([{ partitionKey: 'a', data: new Uint8Array([1]) }, { partitionKey: 'b', data: new Uint8Array([2]) }]);
  out.streams = deaggregate(packed).map((record) => record.partitionKey);`,
    expected: ['a', 'b'],
  },
  {
    key: 'sensors',
    entries: ['@tributary/sensors'],
    peers: [],
    imports: `import { defaultSensorTypes, generateRecords, SensorTypeRegistry } from '@tributary/sensors';`,
    body: `
  const registry = new SensorTypeRegistry(defaultSensorTypes());
  const records = [...generateRecords({ types: registry, sensorsPerType: 2, ratePerSecond: 1, seed: 7, records: 12 })];
  out.sensors = { types: registry.list().length, records: records.length };`,
    expected: { types: 3, records: 12 },
  },
  {
    key: 'streamsKinesis',
    entries: ['@tributary/streams/kinesis'],
    peers: ['@aws-sdk/client-kinesis'],
    imports: `import { KinesisClient } from '@aws-sdk/client-kinesis';
import { sensorProducerOptions } from '@tributary/sensors';
import { KinesisProducer } from '@tributary/streams/kinesis';`,
    body: `
  const kinesis = new KinesisClient(offline);
  const kinesisProducer = new KinesisProducer({ client: kinesis, streamName: 'sensors', ...sensorProducerOptions });
  const kinesisResult = await kinesisProducer.close();
  kinesis.destroy();
  out.streamsKinesis = kinesisResult.sent;`,
    expected: 0,
  },
  {
    key: 'streamsFirehose',
    entries: ['@tributary/streams/firehose'],
    peers: ['@aws-sdk/client-firehose'],
    imports: `import { FirehoseClient } from '@aws-sdk/client-firehose';
import { FirehoseProducer } from '@tributary/streams/firehose';`,
    body: `
  const firehose = new FirehoseClient(offline);
  const firehoseProducer = new FirehoseProducer({ client: firehose, deliveryStreamName: 'sensors' });
  const firehoseResult = await firehoseProducer.close();
  firehose.destroy();
  out.streamsFirehose = firehoseResult.sent;`,
    expected: 0,
  },
  {
    key: 'coinmarketcap',
    entries: ['@tributary/coinmarketcap', '@tributary/coinmarketcap/testing'],
    peers: [],
    imports: `import { CoinMarketCapClient, normalizeListings } from '@tributary/coinmarketcap';
import { startFixtureServer } from '@tributary/coinmarketcap/testing';`,
    body: `
  const server = await startFixtureServer({ coins: 5, seed: 7, apiKey: 'test-key' });
  try {
    const cmc = new CoinMarketCapClient({ baseUrl: server.baseUrl, apiKey: 'test-key' });
    const { data } = await cmc.listingsLatest({ limit: 5, convert: 'USD' });
    const listings = normalizeListings(data, { convert: 'USD' });
    out.coinmarketcap = { coins: listings.cryptocurrency.length, quotes: listings.quote.length };
  } finally {
    await server.stop();
  }`,
    expected: { coins: 5, quotes: 5 },
  },
  {
    key: 'warehouse',
    entries: ['@tributary/warehouse'],
    peers: ['pg', '@types/pg'],
    imports: `import pg from 'pg';
import { PostgresLoader } from '@tributary/warehouse';`,
    body: `
  // A pool connects on first use: constructing the loader sends nothing.
  const pool = new pg.Pool({ host: '127.0.0.1', port: 9, max: 1 });
  out.warehouse = new PostgresLoader({ pool }) instanceof PostgresLoader;
  await pool.end();`,
    expected: true,
  },
  {
    key: 'warehouseAthena',
    entries: ['@tributary/warehouse/athena'],
    peers: ['@aws-sdk/client-athena'],
    imports: `import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaEngine, athenaLiteral } from '@tributary/warehouse/athena';`,
    body: `
  const athena = new AthenaClient(offline);
  const athenaEngine = new AthenaEngine({ client: athena, database: 'tributary', outputLocation: 's3://results/' });
  out.warehouseAthena = { literal: athenaLiteral("it's"), engine: athenaEngine.name };
  athena.destroy();`,
    expected: { literal: "'it''s'", engine: 'athena' },
  },
  {
    key: 'warehouseDuckdb',
    entries: ['@tributary/warehouse/duckdb'],
    peers: ['@duckdb/node-api'],
    imports: `import { DuckDbEngine } from '@tributary/warehouse/duckdb';`,
    body: `
  const duck = await DuckDbEngine.create({ threads: 1 });
  try {
    const { rows } = await duck.query('SELECT 1 AS one, 40 + 2 AS answer').collect();
    out.warehouseDuckdb = rows;
  } finally {
    await duck.close();
  }`,
    expected: [{ one: 1, answer: 42 }],
  },
];

const allEntries = packageNames
  .flatMap((name) => [`@tributary/${name}`])
  .concat(sections.flatMap((s) => s.entries).filter((e) => e.split('/').length > 2));

/** The user projects: one ESM with every entry point, one CommonJS that adds only some peers. */
interface Project {
  name: string;
  type: 'module' | 'commonjs';
  sections: string[];
  /** tsconfig variants to type-check; the first one also emits the program that runs. */
  configs: ('nodenext' | 'bundler' | 'node10')[];
}

const projects: Project[] = [
  {
    name: 'esm-app',
    type: 'module',
    sections: sections.map((s) => s.key),
    configs: ['nodenext', 'bundler', 'node10'],
  },
  // A Kinesis user with S3, DuckDB and PostgreSQL: no Firehose, Glue or Athena client installed,
  // so the main entries must need none of them, in types (skipLibCheck off) and at run time.
  {
    name: 'cjs-app',
    type: 'commonjs',
    sections: [
      'core',
      'lake',
      'lakeS3',
      'streams',
      'sensors',
      'streamsKinesis',
      'coinmarketcap',
      'warehouse',
      'warehouseDuckdb',
    ],
    configs: ['nodenext', 'node10'],
  },
];

const compilerOptions = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
  node10: { module: 'commonjs', moduleResolution: 'node10' },
} as const;

function processOutput(error: unknown): string {
  const {
    stdout = '',
    stderr = '',
    message,
  } = error as { stdout?: string; stderr?: string; message: string };
  const text = `${stdout}\n${stderr}`.trim();
  return text.length > 0 ? text.split('\n').slice(-60).join('\n') : message;
}

async function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${processOutput(error)}`);
  }
}

/** At most `slots` tasks at a time: builds, attw and tsc are CPU-bound, and the machines have two cores. */
function limiter(slots: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

const cpu = limiter(2);

/** A promise started in beforeAll and awaited by a test: its failure is that test's, not unhandled. */
function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The version the workspace installed (the lockfile's), for npm to find in its cache. */
function installedVersion(dependency: string): string {
  const holders = ['', ...packageNames.map((name) => `packages/${name}`)];
  for (const holder of holders) {
    const manifest = path.join(repoRoot, holder, 'node_modules', dependency, 'package.json');
    if (fs.existsSync(manifest)) return readJson<{ version: string }>(manifest).version;
  }
  throw new Error(`${dependency} is not installed in the workspace: run pnpm install`);
}

let workDir = '';
const tarballs = new Map<PackageName, string>();

// A copy of the workspace with just what building and packing needs: the packages' sources and
// manifests, the root configs, and links to the workspace's installed node_modules.
function stageWorkspace(stage: string): void {
  for (const file of ['package.json', 'tsconfig.base.json', 'LICENSE', '.npmrc']) {
    const from = path.join(repoRoot, file);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(stage, file));
  }
  fs.writeFileSync(path.join(stage, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n');
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  for (const name of fs.readdirSync(path.join(repoRoot, 'packages'))) {
    const from = path.join(repoRoot, 'packages', name);
    const to = path.join(stage, 'packages', name);
    if (!fs.existsSync(path.join(from, 'package.json'))) continue;
    fs.mkdirSync(to, { recursive: true });
    fs.copyFileSync(path.join(from, 'package.json'), path.join(to, 'package.json'));
    if (!(packageNames as readonly string[]).includes(name)) continue;
    for (const entry of fs.readdirSync(from)) {
      if (entry === 'node_modules' || entry === 'dist' || entry === 'tests') continue;
      fs.cpSync(path.join(from, entry), path.join(to, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(from, 'node_modules'), path.join(to, 'node_modules'), 'dir');
  }
}

async function packOne(stage: string, name: PackageName): Promise<void> {
  const destination = path.join(workDir, 'tarballs');
  const before = new Set(fs.readdirSync(destination));
  // pnpm pack runs the package's prepack (its tsup build) and replaces workspace: ranges.
  await run('pnpm', ['pack', '--pack-destination', destination], path.join(stage, 'packages', name));
  const created = fs
    .readdirSync(destination)
    .filter((f) => !before.has(f) && f.includes(`tributary-${name}-`));
  if (created.length !== 1)
    throw new Error(`expected one tarball for ${name}, got ${JSON.stringify(created)}`);
  tarballs.set(name, path.join(destination, created[0] as string));
}

function programSource(project: Project): string {
  const chosen = sections.filter((s) => project.sections.includes(s.key));
  const imports = [
    `import { defineSchema, field } from '@tributary/core';`,
    ...chosen.map((s) => s.imports).filter((i) => !i.startsWith(`import { defineSchema, field }`)),
  ];
  return `${imports.join('\n')}

// No network: AWS clients point at a closed loopback port and are never sent a request.
const offline = {
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
${chosen.map((s) => s.body).join('\n')}
  console.log(JSON.stringify(out));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;
}

function projectDependencies(project: Project): string[] {
  const chosen = sections.filter((s) => project.sections.includes(s.key));
  const peers = [...new Set(chosen.flatMap((s) => s.peers))];
  return [
    // Every tarball, as files: the packages depend on each other, and npm must not look any
    // @tributary/* up in the registry.
    ...packageNames.map((name) => tarballs.get(name) as string),
    ...peers.map((peer) => `${peer}@${installedVersion(peer)}`),
    `typescript@${installedVersion('typescript')}`,
    `@types/node@${installedVersion('@types/node')}`,
  ];
}

function projectDir(project: Project): string {
  return path.join(workDir, project.name);
}

async function createProject(project: Project): Promise<void> {
  const dir = projectDir(project);
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: project.name, version: '1.0.0', private: true, type: project.type }, null, 2),
  );
  fs.writeFileSync(path.join(dir, 'src', 'app.ts'), programSource(project));
  for (const config of project.configs) {
    const emits = config === project.configs[0];
    const tsconfig = {
      compilerOptions: {
        ...compilerOptions[config],
        target: 'es2022',
        lib: ['es2023'],
        types: ['node'],
        strict: true,
        esModuleInterop: true,
        // Library declarations are checked too: an optional peer that a declaration names but the
        // user did not install must fail here, not become `any`.
        skipLibCheck: false,
        ...(emits ? { outDir: 'out', noEmit: false } : { noEmit: true }),
      },
      include: ['src'],
    };
    fs.writeFileSync(path.join(dir, `tsconfig.${config}.json`), JSON.stringify(tsconfig, null, 2));
  }
  // npm, not pnpm: a flat node_modules as most users get, peers only where the project lists them.
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...projectDependencies(project),
    ],
    dir,
  );
}

interface AttwReport {
  analysis: { problems?: unknown[]; entrypoints: Record<string, unknown> };
}

async function attw(tarball: string): Promise<{ report: AttwReport; table: string }> {
  const bin = path.join(repoRoot, 'node_modules', '.bin', 'attw');
  // attw exits 1 when it finds problems; its JSON report is on stdout either way.
  const json = await execFileAsync(bin, [tarball, '--format', 'json'], { maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => r.stdout,
    (error: { stdout?: string }) => {
      if (!error.stdout) throw new Error(`attw failed on ${tarball}:\n${processOutput(error)}`);
      return error.stdout;
    },
  );
  const report = JSON.parse(json) as AttwReport;
  const clean = (report.analysis.problems ?? []).length === 0;
  const table = clean
    ? ''
    : await execFileAsync(bin, [tarball, '--format', 'ascii']).then(
        (r) => r.stdout,
        (error: { stdout?: string }) => error.stdout ?? '',
      );
  return { report, table };
}

const attwReports = new Map<PackageName, Promise<{ report: AttwReport; table: string }>>();
const installs = new Map<string, Promise<void>>();
/** tsc's output per project and config: '' when it type-checks. */
const typeChecks = new Map<string, Promise<string>>();

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-npm-install-'));
  const stage = path.join(workDir, 'workspace');
  fs.mkdirSync(stage);
  fs.mkdirSync(path.join(workDir, 'tarballs'));
  stageWorkspace(stage);
  const packs = await Promise.allSettled(packageNames.map((name) => cpu(() => packOne(stage, name))));
  const failed = packs.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new Error(failed.map((r) => (r.reason as Error).message).join('\n\n'));

  // Started here, awaited by the tests: attw runs while npm installs, tsc as soon as its project is in.
  for (const name of packageNames)
    attwReports.set(name, started(cpu(() => attw(tarballs.get(name) as string))));
  for (const project of projects) {
    const installed = started(createProject(project));
    installs.set(project.name, installed);
    for (const config of project.configs) {
      const dir = projectDir(project);
      const tsc = path.join(dir, 'node_modules', '.bin', 'tsc');
      const checked = installed.then(() =>
        cpu(() =>
          run(tsc, ['-p', `tsconfig.${config}.json`], dir).then(
            () => '',
            (error: Error) => error.message,
          ),
        ),
      );
      typeChecks.set(`${project.name}:${config}`, started(checked));
    }
  }
}, 240_000);

afterAll(() => {
  if (workDir !== '' && process.env.TRIBUTARY_KEEP_PACK !== '1')
    fs.rmSync(workDir, { recursive: true, force: true });
});

describe.each(packageNames)('@tributary/%s tarball', (name) => {
  it('has no problems for attw under node10, node16 (CJS and ESM) and bundler', async () => {
    const { report, table } = await (attwReports.get(name) as Promise<{ report: AttwReport; table: string }>);

    expect({ name, problems: report.analysis.problems ?? [] }, table).toEqual({ name, problems: [] });
    expect(Object.keys(report.analysis.entrypoints).length).toBeGreaterThan(1);
  }, 120_000);

  it('has no publint errors, warnings or suggestions', async () => {
    const file = tarballs.get(name) as string;
    const tarball = fs.readFileSync(file);
    const pkg = JSON.parse(await run('tar', ['-xzOf', file, 'package/package.json'], workDir)) as Record<
      string,
      unknown
    >;

    const { messages } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });

    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });
});

describe.each(projects)('an npm project ($type) using the tarballs', (project) => {
  it('installs the tarballs and every peer it asked for with npm', async () => {
    await installs.get(project.name);
    const dir = projectDir(project);
    const present = (dependency: string) =>
      fs.existsSync(path.join(dir, 'node_modules', dependency, 'package.json'));
    const peers = [
      ...new Set(sections.filter((s) => project.sections.includes(s.key)).flatMap((s) => s.peers)),
    ];

    // npm leaves out, without an error, a peer whose version the package's range does not allow.
    expect(packageNames.filter((name) => !present(`@tributary/${name}`))).toEqual([]);
    expect(peers.filter((peer) => !present(peer))).toEqual([]);
    // The lake's optional dependency: npm installs it, with the prebuilt binary of this platform.
    expect(present('snappy')).toBe(true);
  }, 180_000);

  it.each(project.configs)(
    'type-checks with tsc --strict under %s resolution',
    async (config) => {
      const output = await typeChecks.get(`${project.name}:${config}`);

      expect(output).toBe('');
    },
    180_000,
  );

  it('runs one real call through every entry point it imports', async () => {
    const dir = projectDir(project);
    // The first config emits the program (tsc emits even when it reports errors).
    await typeChecks.get(`${project.name}:${project.configs[0]}`);
    const program = path.join(dir, 'out', 'app.js');
    const text = fs.readFileSync(program, 'utf8');
    // The emitted program loads the packages the way the project's module system does.
    expect(
      project.type === 'module' ? /^import /m.test(text) : /require\("@tributary\/core"\)/.test(text),
    ).toBe(true);

    // The lake's Parquet pages must go through the native snappy, in the CommonJS and the ESM build
    // alike: with `native`, a snappy that does not load fails the write instead of falling back.
    const output = await run(process.execPath, [program], dir, {
      ...process.env,
      TRIBUTARY_PARQUET_SNAPPY: 'native',
      // One encoding worker even on a 2-core machine (where the default is none): the built worker
      // script must load from the installed package, in both module systems.
      TRIBUTARY_PARQUET_WORKERS: '1',
    });

    const expected = Object.fromEntries(
      sections.filter((s) => project.sections.includes(s.key)).map((s) => [s.key, s.expected]),
    );
    expect(JSON.parse(output)).toEqual(expected);
  }, 180_000);
});

describe('what a user downloads and loads', () => {
  it('records each tarball size and the cold import time of each entry point', async () => {
    const project = projects[0] as Project;
    const dir = projectDir(project);
    await installs.get(project.name);
    // Timed alone: nothing else of this file running.
    await Promise.allSettled([...attwReports.values(), ...typeChecks.values()]);
    const sizes = packageNames.map((name) => {
      const file = tarballs.get(name) as string;
      return { tarball: path.basename(file), kB: Math.round(fs.statSync(file).size / 102.4) / 10 };
    });

    const imports: { entry: string; ms: number }[] = [];
    // One at a time, each in a fresh process: the time of a first import, module cache cold.
    for (const entry of allEntries) {
      const script = `const t = performance.now(); await import(${JSON.stringify(entry)}); console.log(performance.now() - t);`;
      const ms = Number((await run(process.execPath, ['--input-type=module', '-e', script], dir)).trim());
      imports.push({ entry, ms: Math.round(ms * 10) / 10 });
    }
    console.log(`packed sizes:\n${sizes.map((s) => `  ${s.tarball}: ${s.kB} kB`).join('\n')}`);
    console.log(`cold import times:\n${imports.map((i) => `  ${i.entry}: ${i.ms} ms`).join('\n')}`);

    expect(sizes.every((s) => s.kB > 0)).toBe(true);
    expect(imports.map((i) => i.entry).sort()).toEqual([...allEntries].sort());
    expect(imports.every((i) => Number.isFinite(i.ms) && i.ms > 0)).toBe(true);
  }, 180_000);
});
