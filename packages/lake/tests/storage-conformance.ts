import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError, ObjectNotFoundError } from '../src/errors.js';
import { compareKeys, type ObjectInfo, type Storage } from '../src/storage.js';

/**
 * Keys whose S3 order differs from a naive folder walk or from JavaScript's string order:
 * ' ' (0x20), '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f), '0' after it; 'Ｚ' (U+FF3A) is
 * above every UTF-16 surrogate but below '😀' in UTF-8. No key is also a folder (`a` and `a/b`)
 * because a local folder cannot be both.
 */
export const TRICKY_KEYS = [
  'a0',
  'a/b',
  'a-b',
  'a b',
  'a.b',
  'a/c d/e',
  'a/c-d',
  'B',
  'ü/x',
  '日本/y',
  '😀',
  'Ｚ',
  'z z/1',
] as const;

/** TRICKY_KEYS in S3 (UTF-8 byte) order, written out so that the test does not trust compareKeys. */
export const TRICKY_KEYS_IN_S3_ORDER = [
  'B',
  'a b',
  'a-b',
  'a.b',
  'a/b',
  'a/c d/e',
  'a/c-d',
  'a0',
  'z z/1',
  'ü/x',
  '日本/y',
  'Ｚ',
  '😀',
] as const;

export interface ConformanceOptions {
  /**
   * The server lists keys folder by folder, so keys with a character below `/` (`a-b`) come after
   * `a/...` keys. s3rver does this (it stores objects as files). When set, the order test checks
   * that every key is listed exactly once and that keys without such characters keep S3's order,
   * instead of the exact order.
   */
  listsFolderByFolder?: boolean;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

const keysOf = (objects: ObjectInfo[]) => objects.map((o) => o.key);

/**
 * Register the tests every `Storage` must pass. `factory` is called once per test and must return
 * an empty storage (a new folder, a new S3 prefix, ...).
 */
export function describeStorageConformance(
  name: string,
  factory: () => Storage | Promise<Storage>,
  options: ConformanceOptions = {},
): void {
  describe(`${name} (Storage conformance)`, () => {
    describe('copy', () => {
      it('copies an object whole, keeps the source, replaces the target, and names a missing source', async () => {
        const storage = await factory();
        const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 251);
        await storage.put('copy/src file.bin', bytes);
        await storage.put('copy/dst/target.bin', 'old');

        const info = await storage.copy?.('copy/src file.bin', 'copy/dst/target.bin');
        const missing = await storage.copy?.('copy/none.bin', 'copy/x.bin').catch((err) => err);

        expect(storage.copy).toBeTypeOf('function');
        expect(info).toMatchObject({ key: 'copy/dst/target.bin', size: 70_000 });
        expect(Buffer.from(await storage.getBytes('copy/dst/target.bin')).equals(Buffer.from(bytes))).toBe(
          true,
        );
        expect(await storage.head('copy/src file.bin')).toMatchObject({ size: 70_000 });
        expect(missing).toBeInstanceOf(ObjectNotFoundError);
        expect(await storage.head('copy/x.bin')).toBeUndefined();
      });
    });

    describe('put and get', () => {
      it('stores bytes, text and streams and reads them back whole', async () => {
        const storage = await factory();
        async function* chunks() {
          yield 'line 1\n';
          yield new TextEncoder().encode('línea 2\n');
          yield Buffer.from('line 3\n');
        }

        const putBytes = await storage.put('b/bytes.bin', new Uint8Array([0, 1, 2, 255]));
        const putText = await storage.put('b/text.txt', 'héllo');
        await storage.put('b/stream.txt', chunks());
        await storage.put('b/readable.txt', Readable.from([Buffer.from('from a '), Buffer.from('Readable')]));

        expect(putBytes).toMatchObject({ key: 'b/bytes.bin', size: 4 });
        expect(putText).toMatchObject({ key: 'b/text.txt', size: 6 });
        expect([...(await storage.getBytes('b/bytes.bin'))]).toEqual([0, 1, 2, 255]);
        expect(await text(await storage.get('b/text.txt'))).toBe('héllo');
        expect(await text(await storage.get('b/stream.txt'))).toBe('line 1\nlínea 2\nline 3\n');
        expect(Buffer.from(await storage.getBytes('b/readable.txt')).toString()).toBe('from a Readable');
      });

      it('stores an empty object', async () => {
        const storage = await factory();

        await storage.put('empty', '');

        expect((await storage.getBytes('empty')).byteLength).toBe(0);
        expect(await storage.head('empty')).toMatchObject({ key: 'empty', size: 0 });
      });

      it('reads byte ranges with an exclusive end', async () => {
        const storage = await factory();
        await storage.put('r', '0123456789');
        const range = async (start?: number, end?: number) =>
          Buffer.from(await storage.getBytes('r', { start, end })).toString();

        expect(await range(2, 5)).toBe('234');
        expect(await range(7)).toBe('789');
        expect(await range(undefined, 3)).toBe('012');
        expect(await range(0, 10)).toBe('0123456789');
        expect(await range(9, 10)).toBe('9');
        expect(await range(4, 4)).toBe('');
        expect(await range(12)).toBe('');
        expect(await text(await storage.get('r', { start: 3, end: 6 }))).toBe('345');
      });

      it('replaces an object that is written again', async () => {
        const storage = await factory();
        await storage.put('o/x.json', '{"version":1,"padding":"xxxxxxxx"}');

        await storage.put('o/x.json', '{"version":2}');

        expect(Buffer.from(await storage.getBytes('o/x.json')).toString()).toBe('{"version":2}');
        expect(await storage.head('o/x.json')).toMatchObject({ size: 13 });
        expect(keysOf(await collect(storage.list('o/')))).toEqual(['o/x.json']);
      });

      it('rejects a missing key with ObjectNotFoundError', async () => {
        const storage = await factory();
        await storage.put('here/a', 'a');

        await expect(storage.get('here/b')).rejects.toBeInstanceOf(ObjectNotFoundError);
        await expect(storage.getBytes('nowhere/b')).rejects.toMatchObject({
          code: 'OBJECT_NOT_FOUND',
          context: expect.objectContaining({ key: 'nowhere/b' }),
        });
        await expect(storage.getBytes('here/b', { start: 1, end: 1 })).rejects.toBeInstanceOf(
          ObjectNotFoundError,
        );
        await expect(storage.get('here')).rejects.toBeInstanceOf(ObjectNotFoundError);
      });
    });

    describe('head', () => {
      it('describes an object and returns undefined for a missing one', async () => {
        const storage = await factory();
        await storage.put('h/obj.txt', 'twelve bytes');

        const info = await storage.head('h/obj.txt');

        expect(info).toMatchObject({ key: 'h/obj.txt', size: 12 });
        expect(info?.lastModified).toBeInstanceOf(Date);
        expect(typeof info?.etag).toBe('string');
        expect(await storage.head('h/missing.txt')).toBeUndefined();
        expect(await storage.head('h')).toBeUndefined();
      });
    });

    describe('list', () => {
      it('lists every object under a prefix in S3 key order', async () => {
        const storage = await factory();
        for (const key of TRICKY_KEYS) await storage.put(key, key);

        const listed = await collect(storage.list(''));

        if (options.listsFolderByFolder) {
          expect(keysOf(listed).sort(compareKeys)).toEqual([...TRICKY_KEYS_IN_S3_ORDER]);
          const plain = keysOf(listed).filter((k) => !/[ .-]/.test(k));
          expect(plain).toEqual(TRICKY_KEYS_IN_S3_ORDER.filter((k) => !/[ .-]/.test(k)));
        } else {
          expect(keysOf(listed)).toEqual([...TRICKY_KEYS_IN_S3_ORDER]);
        }
        expect([...TRICKY_KEYS].sort(compareKeys)).toEqual([...TRICKY_KEYS_IN_S3_ORDER]);
        expect(listed.find((o) => o.key === '日本/y')).toMatchObject({ size: Buffer.byteLength('日本/y') });
      });

      it('filters by a prefix that ends at a slash or in the middle of a name', async () => {
        const storage = await factory();
        for (const key of ['a/b', 'a/c d/e', 'a/c-d', 'a0', 'ab/x', 'b/a']) await storage.put(key, 'x');

        expect(keysOf(await collect(storage.list('a/')))).toEqual(['a/b', 'a/c d/e', 'a/c-d']);
        expect(keysOf(await collect(storage.list('a/c')))).toEqual(['a/c d/e', 'a/c-d']);
        expect(keysOf(await collect(storage.list('a')))).toEqual(['a/b', 'a/c d/e', 'a/c-d', 'a0', 'ab/x']);
        expect(keysOf(await collect(storage.list('nothing/')))).toEqual([]);
      });

      it('starts after a key, whether or not that key exists', async () => {
        const storage = await factory();
        for (const key of ['a/b', 'a/c/d', 'a/c/e', 'a0', 'b']) await storage.put(key, 'x');

        expect(keysOf(await collect(storage.list('', { startAfter: 'a/c/d' })))).toEqual([
          'a/c/e',
          'a0',
          'b',
        ]);
        expect(keysOf(await collect(storage.list('', { startAfter: 'a/c' })))).toEqual([
          'a/c/d',
          'a/c/e',
          'a0',
          'b',
        ]);
        expect(keysOf(await collect(storage.list('a/', { startAfter: 'a/b' })))).toEqual(['a/c/d', 'a/c/e']);
        expect(keysOf(await collect(storage.list('', { startAfter: 'b' })))).toEqual([]);
      });

      it('returns the same keys whatever the page size', async () => {
        const storage = await factory();
        const keys = ['p/1', 'p/2', 'p/3', 'p/4', 'p/5'];
        for (const key of keys) await storage.put(key, 'x');

        expect(keysOf(await collect(storage.list('p/', { pageSize: 2 })))).toEqual(keys);
        expect(keysOf(await collect(storage.list('p/', { pageSize: 2, startAfter: 'p/2' })))).toEqual(
          keys.slice(2),
        );
      });
    });

    describe('listPrefixes', () => {
      it('lists the next path segments under a prefix, in key order', async () => {
        const storage = await factory();
        for (const key of ['top.txt', 'x/1', 'x/y/2', 'x-y/3', 'ü/4', 'a b/5', 'x/z/6'])
          await storage.put(key, 'x');

        expect(await collect(storage.listPrefixes(''))).toEqual(['a b/', 'x-y/', 'x/', 'ü/']);
        expect(await collect(storage.listPrefixes('x/'))).toEqual(['x/y/', 'x/z/']);
        expect(await collect(storage.listPrefixes('x'))).toEqual(['x-y/', 'x/']);
        expect(await collect(storage.listPrefixes('x/y/'))).toEqual([]);
      });
    });

    describe('delete', () => {
      it('deletes many keys, ignores missing ones, and leaves no empty prefix behind', async () => {
        const storage = await factory();
        for (const key of ['d/a/1', 'd/a/2', 'd/b/1', 'd/c', 'keep/1']) await storage.put(key, 'x');

        await storage.delete(['d/a/1', 'd/a/2', 'd/missing', 'never/was/here']);
        async function* more() {
          yield 'd/c';
        }
        await storage.delete(more());

        expect(keysOf(await collect(storage.list('')))).toEqual(['d/b/1', 'keep/1']);
        expect(await collect(storage.listPrefixes('d/'))).toEqual(['d/b/']);
        expect(await storage.head('d/a/1')).toBeUndefined();
      });

      it('accepts an empty list', async () => {
        const storage = await factory();
        await storage.put('stay', 'x');

        await storage.delete([]);

        expect(keysOf(await collect(storage.list('')))).toEqual(['stay']);
      });
    });

    describe('keys', () => {
      it.each(['../x', '/x', 'a//b', 'a/./b', 'a/../b', '', 'a/'])(
        'rejects the invalid key %j',
        async (key) => {
          const storage = await factory();

          await expect(storage.put(key, 'x')).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.getBytes(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.head(key)).rejects.toBeInstanceOf(InvalidKeyError);
          await expect(storage.delete([key])).rejects.toBeInstanceOf(InvalidKeyError);
          expect(keysOf(await collect(storage.list('')))).toEqual([]);
        },
      );

      it('keeps the exact key, spaces and unicode included', async () => {
        const storage = await factory();

        await storage.put('dir with space/naïve file 😀.txt', 'x');

        expect(keysOf(await collect(storage.list('')))).toEqual(['dir with space/naïve file 😀.txt']);
        expect(await storage.head('dir with space/naïve file 😀.txt')).toMatchObject({ size: 1 });
      });
    });
  });
}
