import { Console } from 'node:console';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, Secret } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const CWD = resolve('/srv/app');
const AWS_BASE = { TRIBUTARY_MODE: 'aws', AWS_REGION: 'eu-west-1', TRIBUTARY_BUCKET_PREFIX: 'acme-data' };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function load(env: Record<string, string | undefined>) {
  return loadConfig(env, { cwd: CWD });
}

describe('Secret', () => {
  describe('reveal', () => {
    it('returns the value it holds', () => {
      expect(new Secret('s3cr3t-value').reveal()).toBe('s3cr3t-value');
    });
  });

  describe('conversions', () => {
    it('shows [redacted] through every usual way of printing it', () => {
      const secret = new Secret('s3cr3t-value');

      const printed = [
        String(secret),
        `${secret}`,
        // biome-ignore lint/style/useTemplate: + uses the "default" ToPrimitive hint, which templates do not
        secret + '',
        JSON.stringify({ secret }),
        inspect(secret),
        inspect({ nested: { secret } }, { depth: 10, showHidden: true }),
        format('%s %o %O %j', secret, secret, secret, secret),
      ];

      for (const text of printed) {
        expect(text).not.toContain('s3cr3t-value');
        expect(text).toContain('[redacted]');
      }
      expect(Object.keys(secret)).toEqual([]);
    });
  });
});

describe('loadConfig', () => {
  describe('options', () => {
    it('refuses an empty cwd with an OptionsError naming it', () => {
      expect(() => loadConfig({}, { cwd: '' })).toThrow(
        expect.objectContaining({ name: 'OptionsError', code: 'CONFIG_OPTIONS_INVALID', option: 'cwd' }),
      );
    });
  });

  describe('defaults', () => {
    it('fills a complete local config from an empty environment', () => {
      const config = load({});

      expect(config.mode).toBe('local');
      expect(config.region).toBe('us-east-1');
      expect(config.endpoints).toEqual({});
      expect(config.s3ForcePathStyle).toBe(false);
      expect(config.lake).toEqual({
        raw: resolve(CWD, '.tributary/lake/raw'),
        processed: resolve(CWD, '.tributary/lake/processed'),
        curated: resolve(CWD, '.tributary/lake/curated'),
      });
      expect(config.stream).toEqual({ name: 'tributary-sensors', shards: 2 });
      expect(config.database.url).toBeUndefined();
      expect(config.warehouse).toEqual({
        engine: 'postgres',
        url: undefined,
        athenaWorkgroup: 'primary',
        glueDatabase: 'tributary',
      });
      expect(config.coinmarketcap).toEqual({
        apiKey: undefined,
        baseUrl: undefined,
        sandbox: false,
      });
    });

    it('resolves the lake against process.cwd() when no cwd is given', () => {
      const config = loadConfig({});

      expect(config.lake.raw).toBe(resolve(process.cwd(), '.tributary/lake/raw'));
    });

    it('treats empty and blank strings as unset', () => {
      const config = load({
        TRIBUTARY_MODE: '',
        AWS_REGION: '  ',
        TRIBUTARY_STREAM_SHARDS: '',
        DATABASE_URL: '',
      });

      expect(config.mode).toBe('local');
      expect(config.region).toBe('us-east-1');
      expect(config.stream.shards).toBe(2);
      expect(config.database.url).toBeUndefined();
    });

    it('returns a deeply frozen object', () => {
      const config = load({});

      expect(Object.isFrozen(config)).toBe(true);
      expect(Object.isFrozen(config.lake)).toBe(true);
      expect(Object.isFrozen(config.endpoints)).toBe(true);
      expect(() => {
        (config.stream as { shards: number }).shards = 9;
      }).toThrow(TypeError);
    });
  });

  describe('mode', () => {
    it('accepts aws', () => {
      expect(load(AWS_BASE).mode).toBe('aws');
    });

    it('rejects anything else, naming the variable and the value', () => {
      const err = configError(() => load({ TRIBUTARY_MODE: 'prod' }));

      expect(err.variable).toBe('TRIBUTARY_MODE');
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toBe('TRIBUTARY_MODE must be "local" or "aws" (got "prod")');
    });
  });

  describe('region', () => {
    it('prefers AWS_REGION over AWS_DEFAULT_REGION', () => {
      expect(load({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe('eu-west-1');
    });

    it('falls back to AWS_DEFAULT_REGION', () => {
      expect(load({ AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe('us-west-2');
    });

    it('is required in aws mode', () => {
      const err = configError(() => load({ ...AWS_BASE, AWS_REGION: undefined }));

      expect(err.variable).toBe('AWS_REGION');
      expect(err.message).toContain('required in aws mode');
    });

    it('names the variable that held a malformed region', () => {
      const err = configError(() => load({ AWS_DEFAULT_REGION: 'US East' }));

      expect(err.variable).toBe('AWS_DEFAULT_REGION');
      expect(err.message).toContain('(got "US East")');
    });
  });

  describe('endpoints', () => {
    it('reads one variable per service', () => {
      const config = load({
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569',
        AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:4567',
      });

      expect(config.endpoints).toEqual({ s3: 'http://127.0.0.1:4569', kinesis: 'http://127.0.0.1:4567' });
    });

    it('falls back to AWS_ENDPOINT_URL for every service without its own', () => {
      const config = load({
        AWS_ENDPOINT_URL: 'http://localhost:5000',
        AWS_ENDPOINT_URL_S3: 'https://s3.local',
      });

      expect(config.endpoints).toEqual({
        s3: 'https://s3.local',
        kinesis: 'http://localhost:5000',
        firehose: 'http://localhost:5000',
        glue: 'http://localhost:5000',
        athena: 'http://localhost:5000',
      });
    });

    it('ignores every override when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true', () => {
      const config = load({
        AWS_ENDPOINT_URL: 'http://localhost:5000',
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
      });

      expect(config.endpoints).toEqual({});
    });

    it('rejects a value that is not an http(s) URL, naming its variable', () => {
      const err = configError(() => load({ AWS_ENDPOINT_URL_GLUE: 'localhost:5000' }));

      expect(err.variable).toBe('AWS_ENDPOINT_URL_GLUE');
      expect(err.message).toBe(
        'AWS_ENDPOINT_URL_GLUE must be an http:// or https:// URL (value not shown: it is not a URL)',
      );
    });

    it('reports a bad AWS_ENDPOINT_URL once, not once per service', () => {
      const err = configError(() => load({ AWS_ENDPOINT_URL: 'ftp://host' }));

      expect(err.variable).toBe('AWS_ENDPOINT_URL');
      expect(err.message).toBe(
        'AWS_ENDPOINT_URL must be an http:// or https:// URL (got scheme "ftp:", host "host"; the rest not shown)',
      );
    });
  });

  describe('s3ForcePathStyle', () => {
    it('defaults to true when an S3 endpoint override is set', () => {
      expect(load({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' }).s3ForcePathStyle).toBe(true);
    });

    it.each([
      ['no', false],
      ['0', false],
      ['FALSE', false],
      ['yes', true],
      ['1', true],
      ['true', true],
    ])('reads %s as %s', (value, expected) => {
      const config = load({
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569',
        TRIBUTARY_S3_FORCE_PATH_STYLE: value,
      });

      expect(config.s3ForcePathStyle).toBe(expected);
    });

    it('rejects a word that is not a boolean', () => {
      const err = configError(() => load({ TRIBUTARY_S3_FORCE_PATH_STYLE: 'maybe' }));

      expect(err.variable).toBe('TRIBUTARY_S3_FORCE_PATH_STYLE');
      expect(err.message).toContain('(got "maybe")');
    });
  });

  describe('lake (local mode)', () => {
    it('puts every zone under TRIBUTARY_LAKE_DIR, resolved against cwd', () => {
      const config = load({ TRIBUTARY_LAKE_DIR: 'data/lake' });

      expect(config.lake.processed).toBe(resolve(CWD, 'data/lake/processed'));
    });

    it('takes a zone folder of its own when given', () => {
      const config = load({ TRIBUTARY_LAKE_CURATED: '/mnt/curated', TRIBUTARY_LAKE_RAW: 'raw-here' });

      expect(config.lake.curated).toBe(resolve('/mnt/curated'));
      expect(config.lake.raw).toBe(resolve(CWD, 'raw-here'));
      expect(config.lake.processed).toBe(resolve(CWD, '.tributary/lake/processed'));
    });

    it('rejects an s3:// URL, which local mode cannot use', () => {
      const err = configError(() => load({ TRIBUTARY_LAKE_RAW: 's3://acme-raw' }));

      expect(err.variable).toBe('TRIBUTARY_LAKE_RAW');
      expect(err.message).toContain('TRIBUTARY_MODE=aws');
    });
  });

  describe('lake (aws mode)', () => {
    it('derives one bucket per zone from TRIBUTARY_BUCKET_PREFIX', () => {
      expect(load(AWS_BASE).lake).toEqual({
        raw: 's3://acme-data-raw',
        processed: 's3://acme-data-processed',
        curated: 's3://acme-data-curated',
      });
    });

    it('prefers zone URLs and drops their trailing slash', () => {
      const config = load({ ...AWS_BASE, TRIBUTARY_LAKE_RAW: 's3://landing.acme/raw/zone/' });

      expect(config.lake.raw).toBe('s3://landing.acme/raw/zone');
      expect(config.lake.curated).toBe('s3://acme-data-curated');
    });

    it('requires each zone when no bucket prefix is set', () => {
      const err = configError(() =>
        load({
          TRIBUTARY_MODE: 'aws',
          AWS_REGION: 'eu-west-1',
          TRIBUTARY_LAKE_PROCESSED: 's3://p-bucket',
          TRIBUTARY_LAKE_CURATED: 's3://c-bucket',
        }),
      );

      expect(err.variable).toBe('TRIBUTARY_LAKE_RAW');
      expect(err.message).toContain('required in aws mode');
    });

    it.each([
      ['/var/lake', 'an s3://bucket[/prefix] URL'],
      ['s3://My_Bucket/x', 'valid S3 bucket'],
      ['s3://ab', 'valid S3 bucket'],
      [`s3://${'a'.repeat(64)}`, 'valid S3 bucket'],
      ['s3://a..b', 'valid S3 bucket'],
      ['s3://192.168.0.1', 'valid S3 bucket'],
    ])('rejects %s', (value, expected) => {
      const err = configError(() => load({ ...AWS_BASE, TRIBUTARY_LAKE_PROCESSED: value }));

      expect(err.variable).toBe('TRIBUTARY_LAKE_PROCESSED');
      expect(err.message).toContain(expected);
    });

    it('rejects a bucket prefix that makes invalid bucket names', () => {
      const err = configError(() => load({ ...AWS_BASE, TRIBUTARY_BUCKET_PREFIX: 'x'.repeat(60) }));

      expect(err.variable).toBe('TRIBUTARY_BUCKET_PREFIX');
    });
  });

  describe('stream', () => {
    it('reads the name and the shard count', () => {
      expect(load({ TRIBUTARY_STREAM: 'fleet-a', TRIBUTARY_STREAM_SHARDS: '8' }).stream).toEqual({
        name: 'fleet-a',
        shards: 8,
      });
    });

    it.each(['0', '-1', '2.5', 'two', '1e3'])('rejects %s shards', (value) => {
      const err = configError(() => load({ TRIBUTARY_STREAM_SHARDS: value }));

      expect(err.variable).toBe('TRIBUTARY_STREAM_SHARDS');
      expect(err.message).toBe(`TRIBUTARY_STREAM_SHARDS must be a positive integer (got "${value}")`);
    });

    it('rejects a name Kinesis would refuse', () => {
      expect(configError(() => load({ TRIBUTARY_STREAM: 'my stream' })).variable).toBe('TRIBUTARY_STREAM');
    });
  });

  describe('database', () => {
    it('keeps DATABASE_URL as a Secret', () => {
      const url = 'postgres://app:pw-123@127.0.0.1:5432/tributary';

      const config = load({ DATABASE_URL: url });

      expect(config.database.url).toBeInstanceOf(Secret);
      expect(config.database.url?.reveal()).toBe(url);
    });

    it('accepts the postgresql:// scheme', () => {
      expect(load({ DATABASE_URL: 'postgresql://localhost/db' }).database.url?.reveal()).toBe(
        'postgresql://localhost/db',
      );
    });

    it.each(['mysql://app:hunter2-secret@db/x', 'hunter2-secret'])(
      'rejects %s without echoing it',
      (value) => {
        const err = configError(() => load({ DATABASE_URL: value }));

        expect(err.variable).toBe('DATABASE_URL');
        expect(err.message).toContain('postgres://');
        expect(err.message).not.toContain('hunter2');
        expect(JSON.stringify(err)).not.toContain('hunter2');
        expect(inspect(err, { depth: 10 })).not.toContain('hunter2');
      },
    );
  });

  describe('warehouse', () => {
    it('defaults to Redshift in aws mode and reads REDSHIFT_URL', () => {
      const url = 'postgres://admin:pw@wh.abc.eu-west-1.redshift.amazonaws.com:5439/dev';

      const warehouse = load({ ...AWS_BASE, REDSHIFT_URL: url }).warehouse;

      expect(warehouse.engine).toBe('redshift');
      expect(warehouse.url?.reveal()).toBe(url);
    });

    it('uses the DATABASE_URL database for the postgres engine', () => {
      const url = 'postgres://app:pw@127.0.0.1:5432/tributary';

      const warehouse = load({ DATABASE_URL: url, REDSHIFT_URL: 'postgres://other/db' }).warehouse;

      expect(warehouse.engine).toBe('postgres');
      expect(warehouse.url?.reveal()).toBe(url);
    });

    it('reads the IAM role, Athena and Glue settings', () => {
      const warehouse = load({
        ...AWS_BASE,
        TRIBUTARY_WAREHOUSE: 'postgres',
        TRIBUTARY_REDSHIFT_IAM_ROLE: 'arn:aws-cn:iam::123456789012:role/service/redshift-copy',
        TRIBUTARY_ATHENA_WORKGROUP: 'analytics',
        TRIBUTARY_ATHENA_OUTPUT: 's3://acme-athena/results/',
        TRIBUTARY_GLUE_DATABASE: 'sensors_db',
      }).warehouse;

      expect(warehouse).toEqual({
        engine: 'postgres',
        url: undefined,
        iamRole: 'arn:aws-cn:iam::123456789012:role/service/redshift-copy',
        athenaWorkgroup: 'analytics',
        athenaOutput: 's3://acme-athena/results/',
        glueDatabase: 'sensors_db',
      });
    });

    it.each([
      ['TRIBUTARY_WAREHOUSE', 'snowflake'],
      ['TRIBUTARY_REDSHIFT_IAM_ROLE', 'arn:aws:iam::12345:role/x'],
      ['TRIBUTARY_REDSHIFT_IAM_ROLE', 'arn:aws:iam::123456789012:user/x'],
      ['TRIBUTARY_ATHENA_WORKGROUP', 'my workgroup'],
      ['TRIBUTARY_GLUE_DATABASE', 'Sensors-DB'],
    ])('rejects %s=%s', (variable, value) => {
      const err = configError(() => load({ [variable]: value }));

      expect(err.variable).toBe(variable);
      expect(err.message).toContain(`(got ${JSON.stringify(value)})`);
    });

    it('rejects a TRIBUTARY_ATHENA_OUTPUT that is not s3://, showing its scheme and host only', () => {
      const err = configError(() => load({ TRIBUTARY_ATHENA_OUTPUT: 'https://acme-athena/results' }));

      expect(err.variable).toBe('TRIBUTARY_ATHENA_OUTPUT');
      expect(err.message).toBe(
        'TRIBUTARY_ATHENA_OUTPUT must be an s3://bucket[/prefix] URL (got scheme "https:", host "acme-athena"; the rest not shown)',
      );
    });

    it('rejects a malformed REDSHIFT_URL without echoing it', () => {
      const err = configError(() => load({ REDSHIFT_URL: 'jdbc:redshift://h:5439/dev?password=hunter2' }));

      expect(err.variable).toBe('REDSHIFT_URL');
      expect(err.message).not.toContain('hunter2');
    });
  });

  describe('coinmarketcap', () => {
    it('keeps the API key as a Secret', () => {
      const cmc = load({ CMC_API_KEY: 'cmc-key-0000' }).coinmarketcap;

      expect(cmc.apiKey?.reveal()).toBe('cmc-key-0000');
    });

    it('leaves the base URL to the client unless CMC_BASE_URL is set, in sandbox mode too', () => {
      expect(load({ CMC_SANDBOX: 'yes' }).coinmarketcap).toEqual({
        apiKey: undefined,
        baseUrl: undefined,
        sandbox: true,
      });
    });

    it('takes CMC_BASE_URL without its trailing slash', () => {
      expect(load({ CMC_BASE_URL: 'http://127.0.0.1:8080/' }).coinmarketcap.baseUrl).toBe(
        'http://127.0.0.1:8080',
      );
    });

    it('rejects a base URL that is not http(s)', () => {
      expect(configError(() => load({ CMC_BASE_URL: 'pro-api.coinmarketcap.com' })).variable).toBe(
        'CMC_BASE_URL',
      );
    });
  });

  describe('secrets in URL-valued variables', () => {
    // Each value carries a credential; the error must name the variable and the problem only.
    const CASES: [string, string, Record<string, string>][] = [
      ['AWS_ENDPOINT_URL', 'https://AKIAEXAMPLE7Q:wJalrXUtnFEMI-K7MDENG@localhost:4566', {}],
      ['AWS_ENDPOINT_URL_S3', 'http://:s3-pass-41f0@127.0.0.1:4569', {}],
      ['AWS_ENDPOINT_URL', 'ftp://user:ftp-pass-3d1c@host', {}],
      ['AWS_ENDPOINT_URL_KINESIS', 'http://127.0.0.1:4567/?X-Amz-Security-Token=tok-8e2b', {}],
      ['CMC_BASE_URL', 'https://pro-api.coinmarketcap.com/?CMC_PRO_API_KEY=cmc-key-77aa', {}],
      ['CMC_BASE_URL', 'https://pro-api.coinmarketcap.com/#cmc-key-77aa', {}],
      ['CMC_BASE_URL', 'ftp://pro-api.coinmarketcap.com/v1?key=cmc-key-77aa', {}],
      ['CMC_BASE_URL', 'https://me:cmc-key-77aa@pro-api.coinmarketcap.com', {}],
      ['CMC_BASE_URL', 'cmc-key-77aa:x@pro-api.coinmarketcap.com', {}],
      ['TRIBUTARY_LAKE_RAW', 'https://me:lake-pass-5e5e@minio.local/raw', {}],
      ['TRIBUTARY_LAKE_DIR', 'http://host/?token=lake-tok-1b1b', {}],
      [
        'TRIBUTARY_LAKE_RAW',
        's3://AKIAEXAMPLE7Q:s3-secret-6a6a@acme-raw/x',
        { TRIBUTARY_MODE: 'aws', AWS_REGION: 'eu-west-1', TRIBUTARY_BUCKET_PREFIX: 'acme' },
      ],
      [
        'TRIBUTARY_LAKE_CURATED',
        's3://acme_BAD/x?token=s3-tok-2c2c',
        { TRIBUTARY_MODE: 'aws', AWS_REGION: 'eu-west-1', TRIBUTARY_BUCKET_PREFIX: 'acme' },
      ],
      ['TRIBUTARY_ATHENA_OUTPUT', 's3://u:athena-pass-9d9d@acme-results/', {}],
    ];
    const SECRET = /(wJalrXUtnFEMI-K7MDENG|[a-z0-9]+-(?:pass|key|tok|secret)-[0-9a-f]{4}|AKIAEXAMPLE7Q)/g;

    it.each(CASES)('%s=%s is refused without showing the credential', (variable, value, base) => {
      const err = configError(() => load({ ...base, [variable]: value }));

      expect(err.variable).toBe(variable);
      for (const secret of value.match(SECRET) ?? []) {
        expect(err.message).not.toContain(secret);
        expect(JSON.stringify(err)).not.toContain(secret);
        expect(inspect(err)).not.toContain(secret);
      }
    });

    it('says why a URL with userinfo is refused, and where credentials come from instead', () => {
      const err = configError(() => load({ AWS_ENDPOINT_URL: 'https://AKIAEXAMPLE7Q:wJalr@localhost:4566' }));

      expect(err.message).toBe(
        'AWS_ENDPOINT_URL must not carry credentials (user:password@): they come from the AWS credential chain (got scheme "https:", host "localhost:4566"; the rest not shown)',
      );
    });

    it('says why a CMC_BASE_URL with a query is refused', () => {
      const err = configError(() =>
        load({ CMC_BASE_URL: 'https://pro-api.coinmarketcap.com/?CMC_PRO_API_KEY=k' }),
      );

      expect(err.message).toMatch(
        /^CMC_BASE_URL must have no query string or fragment: the API key comes from CMC_API_KEY/,
      );
    });

    it('keeps accepting a plain base URL with a path', () => {
      expect(load({ CMC_BASE_URL: 'http://127.0.0.1:8080/cmc/' }).coinmarketcap.baseUrl).toBe(
        'http://127.0.0.1:8080/cmc',
      );
    });
  });

  describe('several problems', () => {
    it('reports all of them in one error, naming the first', () => {
      const err = configError(() =>
        load({ TRIBUTARY_STREAM_SHARDS: '0', CMC_SANDBOX: 'perhaps', DATABASE_URL: 'nope-hunter2' }),
      );

      expect(err.variable).toBe('TRIBUTARY_STREAM_SHARDS');
      expect(err.context.variables).toEqual(['TRIBUTARY_STREAM_SHARDS', 'DATABASE_URL', 'CMC_SANDBOX']);
      expect(err.message).toMatch(/^3 configuration problems: /);
      expect(err.message).not.toContain('hunter2');
    });
  });

  describe('printing', () => {
    const SECRETS = {
      DATABASE_URL: 'postgres://app:db-pass-7f3a@127.0.0.1:5432/tributary',
      REDSHIFT_URL: 'postgres://admin:rs-pass-9c1e@wh.example:5439/dev',
      CMC_API_KEY: 'cmc-key-5b2d',
    };
    const FAKES = ['db-pass-7f3a', 'rs-pass-9c1e', 'cmc-key-5b2d'];

    function expectNoSecret(text: string): void {
      for (const fake of FAKES) expect(text).not.toContain(fake);
      expect(text).toContain('[redacted]');
    }

    it('never shows a secret through console.log, JSON, String, inspect or templates', () => {
      const config = load({ ...AWS_BASE, ...SECRETS });
      let logged = '';
      const sink = new Writable({
        write(chunk, _encoding, done) {
          logged += String(chunk);
          done();
        },
      });

      new Console({ stdout: sink, stderr: sink, colorMode: false }).log(config);

      expectNoSecret(logged);
      expectNoSecret(JSON.stringify(config));
      expectNoSecret(String(config));
      expectNoSecret(`${config}`);
      expectNoSecret(inspect(config, { depth: 10 }));
      expectNoSecret(inspect(config, { depth: 10, showHidden: true }));
      expectNoSecret(format('%s %o %O %j', config, config, config, config));
      expectNoSecret(`${config.database.url} ${config.warehouse.url} ${config.coinmarketcap.apiKey}`);
    });

    it('gives a plain JSON view with secrets redacted and settings intact', () => {
      const config = load({ ...AWS_BASE, ...SECRETS });

      const json = config.toJSON();

      expect(json).toMatchObject({
        mode: 'aws',
        region: 'eu-west-1',
        lake: { raw: 's3://acme-data-raw' },
        database: { url: '[redacted]' },
        warehouse: { engine: 'redshift', url: '[redacted]' },
        coinmarketcap: { apiKey: '[redacted]' },
      });
      expect(String(config)).toMatch(/^TributaryConfig \{"mode":"aws"/);
      expect(inspect(config)).not.toContain('toJSON');
    });
  });
});
