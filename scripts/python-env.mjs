#!/usr/bin/env node
// Creates spark/.venv from spark/requirements.txt when it is missing or the requirements changed,
// and prints the interpreter's path. Used by the test setup and by .ci/run; safe to run often.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const venvDir = join(root, 'spark', '.venv');
export const pythonPath = join(venvDir, 'bin', 'python');
const requirements = join(root, 'spark', 'requirements.txt');
const stamp = join(venvDir, '.requirements.sha256');

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python']) {
    if (!candidate) continue;
    try {
      const version = execFileSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
        encoding: 'utf8',
      }).trim();
      const [major, minor] = version.split('.').map(Number);
      if (major === 3 && minor >= 10) return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    'Python 3.10 or newer is needed for the interoperability tests (pyarrow, moto). Install it, or set PYTHON to its path.',
  );
}

/** Returns the venv's python, creating or updating the venv first when needed. */
export function ensurePythonEnv({ quiet = false } = {}) {
  const wanted = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  if (existsSync(pythonPath) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) {
    return pythonPath;
  }
  const log = quiet ? () => {} : (line) => process.stderr.write(`[python-env] ${line}\n`);
  const stdio = quiet ? 'ignore' : ['ignore', process.stderr, process.stderr];
  if (!existsSync(pythonPath)) {
    rmSync(venvDir, { recursive: true, force: true });
    mkdirSync(dirname(venvDir), { recursive: true });
    log(`creating ${venvDir}`);
    execFileSync(findPython(), ['-m', 'venv', venvDir], { stdio });
  }
  log(`installing ${requirements}`);
  execFileSync(
    pythonPath,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', requirements],
    {
      stdio,
    },
  );
  writeFileSync(stamp, `${wanted}\n`);
  return pythonPath;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensurePythonEnv()}\n`);
}
