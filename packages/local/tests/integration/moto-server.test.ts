import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, LocalStartError, type MotoServer, startMotoServer } from '../../src/index.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startMotoServer', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMotoServer();
  });
  afterAll(async () => {
    await moto.stop();
  });

  it('answers S3 calls on loopback with the test credentials', async () => {
    const client = new S3Client({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
      forcePathStyle: true,
    });

    await client.send(new CreateBucketCommand({ Bucket: 'tributary-moto' }));
    const listed = await client.send(new ListBucketsCommand({}));
    client.destroy();

    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listed.Buckets?.map((b) => b.Name)).toEqual(['tributary-moto']);
  });

  it('gives a second server another port, and stop() ends its process even when called twice', async () => {
    const second = await startMotoServer();
    const runningBeforeStop = isRunning(second.pid);

    await Promise.all([second.stop(), second.stop()]);
    await second.stop();

    expect(second.endpoint).not.toBe(moto.endpoint);
    expect(runningBeforeStop).toBe(true);
    expect(isRunning(second.pid)).toBe(false);
  });

  it('rejects options that make no sense', async () => {
    await expect(startMotoServer({ startTimeoutMs: 0 })).rejects.toThrow(
      /startTimeoutMs must be a positive number/,
    );
    await expect(startMotoServer({ stopGraceMs: -1 })).rejects.toMatchObject({
      name: 'OptionsError',
      code: 'LOCAL_OPTIONS_INVALID',
      option: 'stopGraceMs',
    });
  });

  it('rejects a server that does not answer in time with a LocalStartError naming it', async () => {
    const failure = await startMotoServer({ startTimeoutMs: 1 }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(LocalStartError);
    expect(failure).toMatchObject({ code: 'LOCAL_START_FAILED', context: { server: 'moto_server' } });
    expect(String((failure as Error).message)).toMatch(/did not answer on .* within 1 ms/);
  });
});

describe('freePort', () => {
  it('returns a port nothing listens on', async () => {
    const port = await freePort();
    const { createServer } = await import('node:net');
    const server = createServer();

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));

    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});
