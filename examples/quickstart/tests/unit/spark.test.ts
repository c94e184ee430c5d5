import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuickstartError } from '../../src/errors.js';
import { ICEBERG_EXTENSIONS, runSparkJob, sparkSubmitArgs } from '../../src/spark.js';

// A spark/ folder whose "python" prints what it was started with: no Spark needed to check
// what runSparkJob hands a job.
const work = mkdtempSync(join(tmpdir(), 'tributary-quickstart-spark-'));
const sparkDir = join(work, 'spark');
mkdirSync(join(sparkDir, '.venv', 'bin'), { recursive: true });
mkdirSync(join(sparkDir, 'jobs'));
writeFileSync(join(sparkDir, 'jobs', 'job.py'), '');
const fakePython = join(sparkDir, '.venv', 'bin', 'python');
writeFileSync(
  fakePython,
  '#!/bin/sh\nprintf "submit=%s\\n" "$PYSPARK_SUBMIT_ARGS"\nshift\nprintf "args=%s\\n" "$*"\n',
);
chmodSync(fakePython, 0o755);
const jar = join(work, 'm2 repo', 'iceberg-spark-runtime-3.5_2.12-1.10.0.jar');
mkdirSync(join(work, 'm2 repo'));
writeFileSync(jar, '');

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function linesOf(options: Partial<Parameters<typeof runSparkJob>[0]>): Promise<Record<string, string>> {
  const lines: string[] = [];
  await runSparkJob({
    job: 'job',
    args: ['--processed', 'file:///p'],
    sparkDir,
    onLine: (l) => lines.push(l),
    ...options,
  });
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('runSparkJob', () => {
  describe('tableFormat', () => {
    it('hive (the default) passes the arguments as given and no Iceberg runtime', async () => {
      const out = await linesOf({});

      expect(out.args).toBe('--processed file:///p --master local[2]');
      expect(out.submit).not.toMatch(/iceberg/i);
      expect(out.submit).toMatch(/pyspark-shell$/);
    });

    it('iceberg adds --table-format iceberg, the runtime jar and the SQL extensions', async () => {
      const out = await linesOf({ tableFormat: 'iceberg', icebergJar: jar });

      expect(out.args).toBe('--processed file:///p --table-format iceberg --master local[2]');
      expect(out.submit).toBe(sparkSubmitArgs(jar));
      expect(out.submit).toContain(`--jars '${jar}'`);
      expect(out.submit).toContain(`--conf spark.sql.extensions=${ICEBERG_EXTENSIONS}`);
      expect(out.submit).toMatch(/pyspark-shell$/);
    });

    it('iceberg without the jar fails with QUICKSTART_UNAVAILABLE naming the script that fetches it', async () => {
      const missing = join(work, 'nowhere.jar');

      const error = await runSparkJob({
        job: 'job',
        args: [],
        sparkDir,
        tableFormat: 'iceberg',
        icebergJar: missing,
      }).catch((err: unknown) => err);

      expect(error).toBeInstanceOf(QuickstartError);
      expect((error as QuickstartError).code).toBe('QUICKSTART_UNAVAILABLE');
      expect((error as QuickstartError).message).toContain('node scripts/iceberg-runtime.mjs');
      expect((error as QuickstartError).message).toContain(missing);
    });

    it('rejects an unknown table format with QUICKSTART_INVALID', async () => {
      const error = await runSparkJob({
        job: 'job',
        args: [],
        sparkDir,
        tableFormat: 'delta' as never,
      }).catch((err: unknown) => err);

      expect((error as QuickstartError).code).toBe('QUICKSTART_INVALID');
    });
  });
});
