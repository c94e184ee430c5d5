import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = join(root, 'spark', '.venv', 'bin', 'python');

/** Spark 4 runs on Java 17 or newer; say so plainly instead of a py4j stack trace. */
function javaProblem(): string | undefined {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    return 'Java is missing: the PySpark tests need Java 17 or newer on PATH (e.g. apt-get install openjdk-17-jre-headless), or JAVA_HOME set';
  }
  const major = /version "(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1];
  if (major !== undefined && Number(major) < 17) return `Java ${major} found: Spark 4 needs Java 17 or newer`;
  return undefined;
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
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
  it('passes', { timeout: 420_000 }, async () => {
    const java = javaProblem();
    expect(java, java).toBeUndefined();

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
