import type { ChildProcess } from 'node:child_process';
import { LocalStartError } from './errors.js';

// Child processes started by this package and still running. They are killed when this process
// exits or is interrupted, so a crashed or interrupted test run leaves no server behind.
const live = new Set<ChildProcess>();
let hooked = false;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone: nothing to clean up.
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // Listening to a signal replaces Node's default (exit). When nobody else handles it, restore
  // that default: remove ourselves and raise it again.
  for (const name of SIGNALS) process.removeListener(name, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Kill `child` when this process exits, unless it has exited first. */
export function trackChild(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    for (const name of SIGNALS) process.on(name, onSignal);
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Stop `child`: SIGTERM, then SIGKILL when it has not exited after `graceMs`.
 * Resolves once it has exited.
 */
export async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const outcome = await Promise.race([done.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    child.kill('SIGKILL');
    await done;
  }
}

/**
 * The port a server child prints as its first stdout line (`{"port":N}`) once it is ready. Rejects
 * with the child's stderr when it fails to start, exits first or times out.
 */
export function readPort(
  child: ChildProcess,
  name: 'kinesalite' | 's3rver',
  timeoutMs: number,
  stderr: () => string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () =>
        reject(
          new LocalStartError(`${name} did not start within ${timeoutMs} ms.\n${stderr()}`, { server: name }),
        ),
      timeoutMs,
    );
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new LocalStartError(`Could not start ${name}: ${err.message}`, { server: name, cause: err }));
    });
    void exited(child).then(() => {
      clearTimeout(timer);
      // Let the last stderr chunk arrive before quoting it.
      setTimeout(
        () =>
          reject(
            new LocalStartError(`${name} exited before listening (code ${child.exitCode}).\n${stderr()}`, {
              server: name,
            }),
          ),
        20,
      );
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (!stdout.includes('\n') || line === undefined) return;
      clearTimeout(timer);
      try {
        const { port } = JSON.parse(line) as { port: unknown };
        if (typeof port !== 'number') throw new Error(`no port in ${line}`);
        resolve(port);
      } catch (err) {
        reject(
          new LocalStartError(`${name} printed an unexpected first line: ${line}`, {
            server: name,
            cause: err,
          }),
        );
      }
    });
  });
}
