import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { javaProblem, python, root } from './spark-env.js';

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
