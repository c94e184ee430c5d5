import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectNotFoundError } from './errors.js';
import {
  assertValidKey,
  type Body,
  bodyToBytes,
  checkRange,
  compareKeys,
  type GetOptions,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.js';

interface Stored {
  bytes: Uint8Array;
  info: ObjectInfo;
}

/**
 * A `Storage` held in memory: for tests and for small pipelines that need no files. Same key
 * rules, ordering and atomicity as the other storages.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * await storage.put('a/b.json', '{}');
 * ```
 */
export class MemoryStorage implements Storage {
  readonly url: string;
  readonly #objects = new Map<string, Stored>();

  constructor(name = 'memory') {
    this.url = `memory://${name}`;
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<ObjectInfo> {
    assertValidKey(key);
    options.signal?.throwIfAborted();
    // The whole body is read before it becomes visible: a failed stream stores nothing.
    const bytes = await bodyToBytes(body);
    options.signal?.throwIfAborted();
    return this.#store(key, bytes);
  }

  #store(key: string, bytes: Uint8Array): ObjectInfo {
    const info: ObjectInfo = {
      key,
      size: bytes.byteLength,
      lastModified: new Date(),
      etag: createHash('md5').update(bytes).digest('hex'),
    };
    this.#objects.set(key, { bytes, info });
    return { ...info };
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    return Readable.from([await this.getBytes(key, options)]);
  }

  async getBytes(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    assertValidKey(key);
    const stored = this.#objects.get(key);
    if (!stored) throw new ObjectNotFoundError(key, { url: this.url });
    const { start, end } = checkRange(options);
    return stored.bytes.subarray(start, end ?? stored.bytes.byteLength);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertValidKey(key);
    const stored = this.#objects.get(key);
    return stored ? { ...stored.info } : undefined;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const keys = [...this.#objects.keys()]
      .filter(
        (k) =>
          k.startsWith(prefix) &&
          (options.startAfter === undefined || compareKeys(k, options.startAfter) > 0),
      )
      .sort(compareKeys);
    for (const key of keys) {
      options.signal?.throwIfAborted();
      const stored = this.#objects.get(key);
      if (stored) yield { ...stored.info };
    }
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    const seen = new Set<string>();
    for (const key of this.#objects.keys()) {
      if (!key.startsWith(prefix)) continue;
      const slash = key.indexOf('/', prefix.length);
      if (slash !== -1) seen.add(key.slice(0, slash + 1));
    }
    yield* [...seen].sort(compareKeys);
  }

  async putIfAbsent(key: string, body: Uint8Array | string): Promise<ObjectInfo | undefined> {
    assertValidKey(key);
    // Checked and stored in one synchronous step: of two callers, exactly one finds the key free.
    if (this.#objects.has(key)) return undefined;
    return this.#store(key, typeof body === 'string' ? Buffer.from(body) : body);
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    return this.put(to, await this.getBytes(from));
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    for await (const key of keys) {
      assertValidKey(key);
      this.#objects.delete(key);
    }
  }
}
