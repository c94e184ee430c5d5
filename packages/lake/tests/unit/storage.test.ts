import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { OptionsError } from '@tributary/core';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidKeyError, StorageError } from '../../src/errors.js';
import { LocalStorage } from '../../src/local-storage.js';
import { MemoryStorage } from '../../src/memory-storage.js';
import type { ObjectInfo } from '../../src/storage.js';
import { describeStorageConformance } from '../storage-conformance.js';

const scratch = await mkdtemp(join(tmpdir(), 'tributary-local-storage-'));
let folders = 0;
const newRoot = () => join(scratch, `root-${++folders}`);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const keysOf = (objects: ObjectInfo[]) => objects.map((o) => o.key);

describeStorageConformance('MemoryStorage', () => new MemoryStorage());
describeStorageConformance('LocalStorage', () => new LocalStorage({ root: newRoot() }));

describe('LocalStorage', () => {
  describe('constructor', () => {
    it('resolves a relative root against the current directory and names it by a file URL', () => {
      const storage = new LocalStorage({ root: 'some/lake' });

      expect(storage.root).toBe(resolve('some/lake'));
      expect(storage.url).toBe(pathToFileURL(resolve('some/lake')).href);
      expect(existsSync(storage.root)).toBe(false);
    });

    it('rejects a missing or empty root with an OptionsError naming it', () => {
      expect(() => new LocalStorage({ root: '' })).toThrow(OptionsError);
      expect(() => new LocalStorage({ root: '' })).toThrow(
        expect.objectContaining({ code: 'STORAGE_OPTIONS_INVALID', option: 'root' }),
      );
      expect(() => new LocalStorage({} as { root: string })).toThrow(/needs a root folder/);
    });
  });

  describe('put', () => {
    it('writes the file under the root, creating the folders', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });

      const info = await storage.put('sensors/2026/11/23/part-0.ndjson', '{"id":"a"}\n');

      expect(await readFile(join(root, 'sensors', '2026', '11', '23', 'part-0.ndjson'), 'utf8')).toBe(
        '{"id":"a"}\n',
      );
      expect(info).toMatchObject({ key: 'sensors/2026/11/23/part-0.ndjson', size: 11 });
      expect(info.lastModified).toBeInstanceOf(Date);
    });

    it('leaves no object and no temporary file when the body stream fails midway', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });
      await storage.put('keep', 'x');
      async function* failing() {
        yield Buffer.alloc(64 * 1024, 1);
        yield Buffer.alloc(64 * 1024, 2);
        throw new Error('sensor feed broke');
      }

      const put = storage.put('broken/object.bin', failing());

      await expect(put).rejects.toBeInstanceOf(StorageError);
      await expect(put).rejects.toMatchObject({ cause: { message: 'sensor feed broke' } });
      expect(await storage.head('broken/object.bin')).toBeUndefined();
      expect(keysOf(await collect(storage.list('')))).toEqual(['keep']);
      expect(await collect(storage.listPrefixes(''))).toEqual([]);
      expect(await readdir(join(root, '.tributary-tmp'))).toEqual([]);
    });

    it('rejects with the abort reason and leaves nothing when the signal aborts mid-stream', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });
      const controller = new AbortController();
      async function* slow() {
        yield 'first chunk\n';
        controller.abort(new Error('stop now'));
        await new Promise((r) => setTimeout(r, 10));
        yield 'second chunk\n';
      }

      await expect(storage.put('aborted.txt', slow(), { signal: controller.signal })).rejects.toThrow(
        'stop now',
      );

      expect(await storage.head('aborted.txt')).toBeUndefined();
      expect(await readdir(join(root, '.tributary-tmp'))).toEqual([]);
    });

    it('ends concurrent puts of one key with one complete object', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });
      const bodies = Array.from({ length: 12 }, (_, i) =>
        String.fromCharCode(97 + i).repeat(20_000 + i * 1_000),
      );

      await Promise.all(
        bodies.map((body, i) =>
          storage.put('contended.txt', i % 2 === 0 ? body : Readable.from([body.slice(0, 5), body.slice(5)])),
        ),
      );

      const stored = Buffer.from(await storage.getBytes('contended.txt')).toString();
      expect(bodies).toContain(stored);
      expect(keysOf(await collect(storage.list('')))).toEqual(['contended.txt']);
      expect(await readdir(join(root, '.tributary-tmp'))).toEqual([]);
    });

    it('explains that a key cannot be both an object and a folder', async () => {
      const storage = new LocalStorage({ root: newRoot() });
      await storage.put('a', 'file');

      await expect(storage.put('a/b', 'x')).rejects.toThrow(/cannot be both an object and a folder/);
      await expect(storage.put('a/b', 'x')).rejects.toBeInstanceOf(StorageError);
    });
  });

  describe('keys and paths', () => {
    it('never touches anything outside the root', async () => {
      const parent = join(scratch, `parent-${++folders}`);
      await mkdir(parent);
      await writeFile(join(parent, 'secret.txt'), 'secret');
      const storage = new LocalStorage({ root: join(parent, 'root') });

      for (const key of [
        '../secret.txt',
        '../root2/x',
        'a/../../secret.txt',
        '/etc/passwd',
        'a\\..\\..\\x',
      ]) {
        await expect(storage.put(key, 'pwned')).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(storage.put(key, 'pwned')).rejects.toMatchObject({ code: 'KEY_INVALID' });
        await expect(storage.getBytes(key)).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(storage.delete([key])).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(collect(storage.list('../'))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(collect(storage.listPrefixes('a/../../'))).rejects.toBeInstanceOf(InvalidKeyError);

      expect((await readdir(parent)).sort()).toEqual(['secret.txt']);
      expect(await readFile(join(parent, 'secret.txt'), 'utf8')).toBe('secret');
    });

    it('reserves the temporary folder', async () => {
      const storage = new LocalStorage({ root: newRoot() });

      await expect(storage.put('.tributary-tmp/x', 'x')).rejects.toThrow(/reserved/);
      await expect(collect(storage.list('.tributary-tmp/'))).rejects.toBeInstanceOf(InvalidKeyError);
    });

    it('accepts names that merely start with dots', async () => {
      const storage = new LocalStorage({ root: newRoot() });

      await storage.put('..data/.hidden', 'x');

      expect(keysOf(await collect(storage.list('')))).toEqual(['..data/.hidden']);
    });
  });

  describe('get', () => {
    it('rejects a range that is not made of whole non-negative numbers', async () => {
      const storage = new LocalStorage({ root: newRoot() });
      await storage.put('r', '0123');

      await expect(storage.getBytes('r', { start: -1 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
      await expect(storage.getBytes('r', { end: 1.5 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
    });

    it('stops streaming when the signal aborts', async () => {
      const storage = new LocalStorage({ root: newRoot() });
      await storage.put('big.bin', Buffer.alloc(4 * 1024 * 1024));
      const controller = new AbortController();

      const stream = await storage.get('big.bin', { signal: controller.signal });
      controller.abort();

      await expect(collect(stream)).rejects.toMatchObject({ name: 'AbortError' });
    });
  });

  describe('list', () => {
    it('does not list the temporary folder, nor folders left empty', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });
      await storage.put('a/b', 'x');
      await mkdir(join(root, 'empty', 'deeper'), { recursive: true });
      await writeFile(join(root, '.tributary-tmp', 'leftover.tmp'), 'half');

      expect(keysOf(await collect(storage.list('')))).toEqual(['a/b']);
      expect(await collect(storage.listPrefixes(''))).toEqual(['a/']);
    });
  });

  describe('delete', () => {
    it('removes the folders it empties, up to the root and no further', async () => {
      const root = newRoot();
      const storage = new LocalStorage({ root });
      await storage.put('x/y/z/1', 'x');
      await storage.put('x/2', 'x');

      await storage.delete(['x/y/z/1']);

      expect(existsSync(join(root, 'x', 'y'))).toBe(false);
      expect(existsSync(join(root, 'x', '2'))).toBe(true);
      await storage.delete(['x/2']);
      expect(existsSync(join(root, 'x'))).toBe(false);
      expect(existsSync(root)).toBe(true);
    });
  });
});
