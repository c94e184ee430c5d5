import { createServer } from 'node:net';

/**
 * A TCP port that is free on `host` right now: the OS picks it (listen on port 0), then the probe
 * closes. Another process could take it before the caller listens, so servers that can listen on
 * port 0 themselves should do that instead; this is for programs that need the number up front.
 *
 * @example
 * ```ts
 * import { spawn } from 'node:child_process';
 *
 * const port = await freePort();
 * spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)]);
 * ```
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      probe.close((err) => {
        if (err) reject(err);
        else if (port === undefined) reject(new Error(`Could not read the port of a probe on ${host}`));
        else resolve(port);
      });
    });
  });
}
