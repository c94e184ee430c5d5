import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain ES module script without type declarations
import { icebergRuntimeJar } from '../../scripts/iceberg-runtime.mjs';
import { sparkIcebergProblem } from './iceberg-probe.js';
import { python, root } from './spark-env.js';

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      // The runtime jar scripts/iceberg-runtime.mjs checked: the tests' session puts it on spark.jars.
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: '1',
        TRIBUTARY_ICEBERG_JAR: (icebergRuntimeJar as () => string | undefined)() ?? '',
      },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

describe('spark/tests (pytest)', () => {
  it('passes', { timeout: 600_000 }, async () => {
    // Java 17, the venv and the Iceberg runtime jar (the Iceberg jobs' tests need it).
    const problem = sparkIcebergProblem();
    expect(problem, problem).toBeUndefined();

    const { code, output } = await run(python, [
      '-m',
      'pytest',
      'spark/tests',
      '-q',
      '-p',
      'no:cacheprovider',
    ]);

    // pytest's own report is the failure message: which test, which assertion.
    if (code !== 0) expect.fail(`pytest exited with ${code}:\n${output.slice(-20_000)}`);
    expect(output).toMatch(/\d+ passed/);
    expect(output).not.toMatch(/\d+ (failed|error)/);
  });
});
