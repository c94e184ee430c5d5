import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Reads the README's IAM policies and greps the code that runs in aws mode for the AWS API calls
// it makes: the policy must grant each one, so a new call without a policy change fails here.

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('examples/aws/README.md');

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: unknown;
}
interface Policy {
  Version: string;
  Statement: Statement[];
}

const list = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

/** The first ```json block after the heading. */
function policyAfter(heading: string): Policy {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README heading ${heading}`).toBeGreaterThan(-1);
  const block = /```json\n([\s\S]*?)\n```/.exec(readme.slice(start));
  expect(block, `a json block after ${heading}`).not.toBeNull();
  return JSON.parse(block?.[1] ?? '') as Policy;
}

// Every source file of the packages and examples that sends an AWS SDK command: found by
// scanning, not listed by hand, so a call added anywhere must come with its IAM action. Only
// code that can never run in the demo's aws mode may be set apart, each file with its reason
// (an entry that no longer sends a command fails, so the list cannot go stale).
const NOT_THE_DEMO: Record<string, string> = {
  'packages/streams/src/firehose-producer.ts':
    "FirehoseProducer puts into DirectPut delivery streams; the demo's stream reads Kinesis (KinesisStreamAsSource), which refuses PutRecordBatch",
  'examples/lambda-consumer/src/lambda-consumer.ts':
    'a Lambda handler deployed on its own, with its execution role (its calls are reads the caller may make too)',
};

/** The `.ts` files under a folder, recursively, as paths from the root. */
function sourcesUnder(folder: string): string[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `${folder}/${f.split(sep).join('/')}`);
}

const codeOf = (file: string) =>
  read(file)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');

const workspaceSources = (['packages', 'examples'] as const).flatMap((top) =>
  readdirSync(join(root, top), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => sourcesUnder(`${top}/${d.name}/src`)),
);
/** Files whose code (comments aside) names an AWS SDK package: they may send commands or use helpers. */
const awsFiles = workspaceSources.filter((file) =>
  /@aws-sdk\/(client-[a-z0-9-]+|lib-storage)/.test(codeOf(file)),
);
const SOURCES = awsFiles.filter((file) => !(file in NOT_THE_DEMO));

// S3's IAM actions are not named after its API calls.
const S3_ACTIONS: Record<string, string[]> = {
  HeadBucket: ['s3:ListBucket'],
  CreateBucket: ['s3:CreateBucket'],
  DeleteBucket: ['s3:DeleteBucket'],
  ListObjectsV2: ['s3:ListBucket'],
  ListObjectVersions: ['s3:ListBucketVersions'],
  GetObject: ['s3:GetObject'],
  HeadObject: ['s3:GetObject'],
  PutObject: ['s3:PutObject'],
  CopyObject: ['s3:GetObject', 's3:PutObject'],
  DeleteObjects: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  // recoverDataset's sweep of abandoned multipart uploads
  ListMultipartUploads: ['s3:ListBucketMultipartUploads'],
  AbortMultipartUpload: ['s3:AbortMultipartUpload'],
};
const SDK_SERVICES = new Set(['s3', 'kinesis', 'firehose', 'glue', 'athena']);
// The Kinesis waiters poll DescribeStream; lib-storage's Upload sends the multipart calls
// (s3:PutObject) and AbortMultipartUpload when a part fails.
const HELPERS: Record<string, string[]> = {
  waitUntilStreamExists: ['kinesis:DescribeStream'],
  waitUntilStreamNotExists: ['kinesis:DescribeStream'],
  Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
};

interface Call {
  file: string;
  service: string;
  api: string;
}

/** The `new XxxCommand(` calls of a file, each with the client package it comes from. */
function callsOf(file: string, code = codeOf(file)): Call[] {
  const modules = new Set([...code.matchAll(/@aws-sdk\/client-([a-z0-9-]+)/g)].map((m) => m[1] as string));
  const imported = new Map<string, string>();
  for (const m of code.matchAll(
    /import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'@aws-sdk\/client-([a-z0-9-]+)'/g,
  )) {
    for (const name of (m[1] as string).split(',')) {
      const local = name
        .replace(/^\s*type\s+/, '')
        .split(/\s+as\s+/)[0]
        ?.trim();
      if (local) imported.set(local, m[2] as string);
    }
  }
  return [...code.matchAll(/\bnew ([A-Z][A-Za-z0-9]*)Command\(/g)].map((m) => {
    const api = m[1] as string;
    // Dynamically loaded commands (`const { PutRecordsCommand } = await loadKinesis()`) come
    // from the one client module the file names.
    const service = imported.get(`${api}Command`) ?? (modules.size === 1 ? [...modules][0] : undefined);
    if (service === undefined)
      throw new Error(`${file}: cannot tell which AWS client ${api}Command belongs to`);
    return { file, service, api };
  });
}

function actionsOf(call: Call): string[] {
  if (!SDK_SERVICES.has(call.service))
    throw new Error(`${call.file}: ${call.service} is not in the policy's services`);
  if (call.service !== 's3') return [`${call.service}:${call.api}`];
  const actions = S3_ACTIONS[call.api];
  if (!actions)
    throw new Error(
      `${call.file}: no IAM action known for s3 ${call.api}: add it to S3_ACTIONS and the README`,
    );
  return actions;
}

interface Requirements {
  calls: Call[];
  /** IAM action → where it is needed (`<file> <api>`). */
  required: Map<string, string[]>;
  /** Calls whose IAM action cannot be told (a service outside the policy, an unmapped S3 call). */
  problems: string[];
}

/** The IAM actions the commands and helpers of these files need. */
function requirementsOf(files: readonly { file: string; code: string }[]): Requirements {
  const result: Requirements = { calls: [], required: new Map(), problems: [] };
  const need = (action: string, where: string) =>
    result.required.set(action, [...(result.required.get(action) ?? []), where]);
  for (const { file, code } of files) {
    try {
      const calls = callsOf(file, code);
      result.calls.push(...calls);
      for (const call of calls) for (const action of actionsOf(call)) need(action, `${file} ${call.api}`);
    } catch (error) {
      result.problems.push((error as Error).message);
    }
    for (const [helper, actions] of Object.entries(HELPERS)) {
      if (new RegExp(`\\b(new )?${helper}\\(`).test(code))
        for (const a of actions) need(a, `${file} ${helper}`);
    }
  }
  return result;
}

const demo = requirementsOf(SOURCES.map((file) => ({ file, code: codeOf(file) })));
const { calls, required } = demo;

const caller = policyAfter("### The caller's policy");
const allowed = caller.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action));
const grants = (action: string) =>
  allowed.some((a) =>
    new RegExp(`^${a.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action),
  );

/** The actions a set of files needs that the caller's policy does not grant, with where they are needed. */
const missingFrom = (requirements: Requirements) =>
  [...requirements.required].filter(([action]) => !grants(action)).map(([a, where]) => `${a} (${where[0]})`);

describe('examples/aws README', () => {
  it('holds three IAM policies that parse as policy documents', () => {
    const policies = [
      caller,
      policyAfter('### The Firehose role (only with Firehose delivery)'),
      policyAfter('### The Redshift COPY role (only with `REDSHIFT_URL`)'),
    ];
    for (const policy of policies) {
      expect(policy.Version).toBe('2012-10-17');
      expect(policy.Statement.length).toBeGreaterThan(0);
      for (const statement of policy.Statement) {
        expect(statement.Effect).toBe('Allow');
        expect(list(statement.Action).length).toBeGreaterThan(0);
        // Least privilege: every statement names its resources, no action or resource is a bare '*'.
        expect(list(statement.Action)).not.toContain('*');
        expect(list(statement.Resource)).not.toContain('*');
        for (const resource of list(statement.Resource)) expect(resource).toMatch(/^arn:aws:[a-z0-9-]+:/);
      }
    }
  });

  it('the grep finds the provisioning, teardown and pipeline calls (so the next check is not vacuous)', () => {
    const apis = new Set(calls.map((c) => `${c.service}:${c.api}`));
    for (const api of [
      'kinesis:CreateStream',
      'kinesis:DeleteStream',
      's3:CreateBucket',
      's3:DeleteBucket',
      'glue:CreateDatabase',
      'glue:DeleteDatabase',
      'firehose:CreateDeliveryStream',
      'firehose:DeleteDeliveryStream',
      'kinesis:PutRecords',
      'kinesis:GetRecords',
      's3:PutObject',
      'glue:CreateTable',
      'glue:BatchCreatePartition',
      // the Glue Iceberg catalog's commit (the default table format's)
      'glue:GetTable',
      'glue:UpdateTable',
      'athena:StartQueryExecution',
    ]) {
      expect(apis, api).toContain(api);
    }
  });

  it('scans every source file of the packages and examples for AWS calls, setting apart only files with a reason', () => {
    // The scan reaches the files the aws mode runs, in every package that sends a command.
    expect(SOURCES).toEqual(
      expect.arrayContaining([
        'examples/quickstart/src/aws-provision.ts',
        'packages/lake/src/s3-storage.ts',
        'packages/lake/src/catalog/glue-catalog.ts',
        'packages/lake/src/iceberg/glue-catalog.ts',
        'packages/streams/src/kinesis-producer.ts',
        'packages/streams/src/kinesis-source.ts',
        'packages/warehouse/src/athena-query-result.ts',
      ]),
    );
    // An entry of NOT_THE_DEMO that sends nothing (any more) is stale.
    for (const file of Object.keys(NOT_THE_DEMO)) {
      expect(awsFiles, file).toContain(file);
      expect(callsOf(file).length, file).toBeGreaterThan(0);
    }
  });

  it("the caller's policy grants every AWS API action the aws-mode code calls", () => {
    expect(demo.problems).toEqual([]);
    expect(missingFrom(demo)).toEqual([]);
  });

  it('a command added to any source file without its IAM action in the policy fails the check', () => {
    const added = requirementsOf([
      ...SOURCES.map((file) => ({ file, code: codeOf(file) })),
      {
        file: 'packages/lake/src/partition-indexes.ts',
        code: "import { GetPartitionIndexesCommand } from '@aws-sdk/client-glue';\nawait glue.send(new GetPartitionIndexesCommand({ DatabaseName, TableName }));\n",
      },
      {
        file: 'packages/lake/src/tagging.ts',
        code: "import { PutObjectTaggingCommand } from '@aws-sdk/client-s3';\nawait s3.send(new PutObjectTaggingCommand(input));\n",
      },
    ]);
    expect(missingFrom(added)).toEqual([
      'glue:GetPartitionIndexes (packages/lake/src/partition-indexes.ts GetPartitionIndexes)',
    ]);
    expect(added.problems).toEqual([
      'packages/lake/src/tagging.ts: no IAM action known for s3 PutObjectTagging: add it to S3_ACTIONS and the README',
    ]);
  });

  it("the caller's policy grants nothing beyond those calls and what Athena and Firehose need on the caller's behalf", () => {
    // Athena reads the Glue catalog and writes results with the caller's permissions; creating a
    // delivery stream with a role needs PassRole.
    const onBehalf = new Set([
      'iam:PassRole',
      'glue:GetPartition',
      'glue:BatchGetPartition',
      'athena:GetWorkGroup',
      's3:GetBucketLocation',
      's3:ListBucketMultipartUploads',
      's3:ListMultipartUploadParts',
    ]);
    const extra = allowed.filter((a) => !required.has(a) && !onBehalf.has(a));
    expect(extra).toEqual([]);
  });

  it('the settings table names every variable the config reads, and the Firehose role variable', () => {
    const variables = new Set(
      [
        ...read('packages/core/src/config.ts').matchAll(
          /'((?:TRIBUTARY|AWS|CMC)_[A-Z0-9_]+|DATABASE_URL|REDSHIFT_URL)'/g,
        ),
      ].map((m) => m[1] as string),
    );
    const environment = read('examples/quickstart/src/aws-environment.ts');
    const firehoseVariable = /FIREHOSE_ROLE_VARIABLE = '([A-Z_]+)'/.exec(environment)?.[1];
    expect(firehoseVariable).toBe('TRIBUTARY_FIREHOSE_ROLE_ARN');
    variables.add(firehoseVariable as string);
    expect(variables.size).toBeGreaterThan(15);
    const table = readme.slice(readme.indexOf('## Settings'), readme.indexOf('## What gets provisioned'));
    expect([...variables].filter((v) => !table.includes(`\`${v}\``))).toEqual([]);
  });

  it("start and cleanup run the quickstart's CLI in aws mode", () => {
    const pkg = JSON.parse(read('examples/aws/package.json')) as {
      private: boolean;
      scripts: Record<string, string>;
    };
    expect(pkg.private).toBe(true);
    expect(pkg.scripts.start).toBe('tsx ../quickstart/src/cli.ts --mode aws');
    expect(pkg.scripts.cleanup).toBe('tsx ../quickstart/src/cli.ts --mode aws --cleanup');
    expect(existsSync(join(root, 'examples/quickstart/src/cli.ts'))).toBe(true);
  });
});
