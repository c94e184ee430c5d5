import { randomUUID } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { createWriteStream } from 'node:fs';
import {
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { classifyError, OptionsError, PartialBatchFailureError, TributaryError } from '@tributary/core';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.js';
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

/** Where a {@link LocalStorage} keeps its objects. */
export interface LocalStorageOptions {
  /** The folder; relative paths resolve against the current directory. Created on the first write. */
  root: string;
}

// Puts are written here first, then renamed into place: a rename within one file system is atomic,
// so readers see a whole object or none. It lives under the root to stay on the same file system.
const TEMP_DIR = '.tributary-tmp';
const MISSING = new Set(['ENOENT', 'ENOTDIR']);

/**
 * A `Storage` in a local folder: key `a/b.json` is the file `<root>/a/b.json`.
 *
 * Writes are atomic (a temporary file under `<root>/.tributary-tmp/`, then a rename), listings
 * are lazy and in S3's key order, and a key can never name a path outside the root. Unlike S3, a
 * key cannot be both an object and a folder (`a` and `a/b`), and `contentType`, `contentEncoding`
 * and `metadata` are not stored. Files are not fsynced: a reader never sees a partial object, but
 * a machine crash can lose the latest writes.
 *
 * @example
 * ```ts
 * const storage = new LocalStorage({ root: '.tributary/lake/raw' });
 * await storage.put('sensors/2026/11/23/10/part-0.ndjson', '{"id":"a"}\n');
 * ```
 */
export class LocalStorage implements Storage {
  readonly url: string;
  /** The absolute path of the root folder. */
  readonly root: string;
  readonly #tempDir: string;

  constructor(options: LocalStorageOptions) {
    if (typeof options?.root !== 'string' || options.root.trim() === '') {
      throw new OptionsError('LocalStorage needs a root folder (options.root)', {
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'root',
        context: { root: options?.root },
      });
    }
    if (options.root.includes('\0'))
      throw new OptionsError('LocalStorage root contains a NUL', {
        code: 'STORAGE_OPTIONS_INVALID',
        option: 'root',
        context: { root: options.root },
      });
    this.root = resolve(options.root);
    this.url = pathToFileURL(this.root).href;
    this.#tempDir = join(this.root, TEMP_DIR);
    Object.freeze(this);
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.#pathOf(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const temp = join(this.#tempDir, `${randomUUID()}.tmp`);
    try {
      await mkdir(this.#tempDir, { recursive: true });
      if (typeof body === 'string' || body instanceof Uint8Array) {
        await writeFile(temp, body, { signal });
      } else {
        await pipeline(body as AsyncIterable<Uint8Array | string>, createWriteStream(temp), { signal });
      }
      signal?.throwIfAborted();
      await this.#moveIntoPlace(temp, target);
      return toInfo(key, await stat(target));
    } catch (err) {
      await rm(temp, { force: true }).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw this.#wrap(err, 'put', key);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array | string): Promise<ObjectInfo | undefined> {
    const target = this.#pathOf(key);
    const temp = join(this.#tempDir, `${randomUUID()}.tmp`);
    try {
      await mkdir(this.#tempDir, { recursive: true });
      await writeFile(temp, body);
      // link() fails if the name exists, and makes the whole file appear at once.
      for (let attempt = 1; ; attempt++) {
        await mkdir(resolve(target, '..'), { recursive: true });
        try {
          await link(temp, target);
          break;
        } catch (err) {
          if (errorCode(err) === 'EEXIST') return undefined;
          if (errorCode(err) !== 'ENOENT' || attempt >= 5) throw err;
        }
      }
      return toInfo(key, await stat(target));
    } catch (err) {
      throw this.#wrap(err, 'put', key);
    } finally {
      await rm(temp, { force: true }).catch(() => {});
    }
  }

  async copy(from: string, to: string): Promise<ObjectInfo> {
    const source = this.#pathOf(from);
    const target = this.#pathOf(to);
    const temp = join(this.#tempDir, `${randomUUID()}.tmp`);
    try {
      await mkdir(this.#tempDir, { recursive: true });
      // The kernel copies (or clones) the file; the rename makes the copy appear whole.
      await copyFile(source, temp);
      await this.#moveIntoPlace(temp, target);
      return toInfo(to, await stat(target));
    } catch (err) {
      await rm(temp, { force: true }).catch(() => {});
      throw this.#notFoundOr(err, 'copy', from);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const path = this.#pathOf(key);
    const { start, end } = checkRange(options);
    options.signal?.throwIfAborted();
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw this.#notFoundOr(err, 'get', key);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key, { url: this.url });
      if (end !== undefined && end <= start) {
        await handle.close();
        return Readable.from([]);
      }
      // createReadStream's `end` is inclusive, the Storage API's is exclusive.
      const stream = handle.createReadStream({ start, end: end === undefined ? undefined : end - 1 });
      return options.signal ? addAbortSignal(options.signal, stream) : stream;
    } catch (err) {
      await handle.close().catch(() => {});
      if (err instanceof ObjectNotFoundError) throw err;
      throw this.#wrap(err, 'get', key);
    }
  }

  async getBytes(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const stream = await this.get(key, options);
    try {
      return await bodyToBytes(stream);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.#wrap(err, 'get', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#pathOf(key);
    try {
      const info = await stat(path);
      return info.isFile() ? toInfo(key, info) : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.#wrap(err, 'head', key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const { folder, namePrefix } = this.#splitPrefix(prefix);
    yield* this.#walk(folder, namePrefix, options);
  }

  async *listPrefixes(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<string> {
    const { folder, namePrefix } = this.#splitPrefix(prefix);
    const entries = await this.#readFolder(folder, namePrefix);
    for (const entry of entries) {
      options.signal?.throwIfAborted();
      // S3 only knows prefixes of existing objects: a folder left empty is not one.
      if (entry.isDirectory() && (await this.#holdsAnObject(`${folder}${entry.name}/`))) {
        yield `${folder}${entry.name}/`;
      }
    }
  }

  async delete(keys: Iterable<string> | AsyncIterable<string>): Promise<void> {
    const failed: { item: string; code: string; message?: string }[] = [];
    let succeededCount = 0;
    for await (const key of keys) {
      const path = this.#pathOf(key);
      try {
        await unlink(path);
        await this.#removeEmptyFolders(key);
        succeededCount++;
      } catch (err) {
        // A missing key is not an error (as on S3); nor is a key that is only a folder here.
        if (isMissing(err) || (await isFolder(path))) {
          succeededCount++;
          continue;
        }
        failed.push({
          item: key,
          code: errorCode(err) ?? 'STORAGE_FAILED',
          message: (err as Error)?.message,
        });
      }
    }
    if (failed.length > 0) {
      throw new PartialBatchFailureError(failed, {
        succeededCount,
        message: `Could not delete ${failed.length} object(s) from ${this.url}`,
        context: { url: this.url },
      });
    }
  }

  /**
   * Delete temporary files (`<root>/.tributary-tmp/*.tmp`) last written before `olderThan`: what a
   * process killed during a put or copy leaves. A put in progress keeps writing to its file, so
   * its time stays recent. Returns the removed files' paths relative to the root.
   */
  async removeAbandonedUploads(options: { olderThan: Date; prefix?: string }): Promise<string[]> {
    const cutoff = options.olderThan.getTime();
    let names: string[];
    try {
      names = await readdir(this.#tempDir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw this.#wrap(err, 'list', TEMP_DIR);
    }
    const removed: string[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.tmp')) continue;
      const path = join(this.#tempDir, name);
      try {
        if ((await lstat(path)).mtimeMs >= cutoff) continue;
        await unlink(path);
        removed.push(`${TEMP_DIR}/${name}`);
      } catch (err) {
        if (!isMissing(err)) throw this.#wrap(err, 'delete', `${TEMP_DIR}/${name}`);
      }
    }
    return removed;
  }

  /** The file of `key`, which cannot be outside the root nor in the temporary folder. */
  #pathOf(key: string): string {
    assertValidKey(key);
    if (key === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`)) {
      throw new InvalidKeyError(key, `"${TEMP_DIR}/" is reserved by LocalStorage`);
    }
    const path = resolve(this.root, ...key.split('/'));
    // assertValidKey already forbids "." and ".." segments; this guards the mapping itself.
    const rel = relative(this.root, path);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new InvalidKeyError(key, 'resolves outside the storage root');
    }
    return path;
  }

  /**
   * A list prefix split into the folder to read (`a/b/`) and the start of the names wanted in
   * it (`c` for prefix `a/b/c`).
   */
  #splitPrefix(prefix: string): { folder: string; namePrefix: string } {
    if (typeof prefix !== 'string') throw new InvalidKeyError(String(prefix), 'a prefix is a string');
    const slash = prefix.lastIndexOf('/');
    const folder = prefix.slice(0, slash + 1);
    if (folder !== '') {
      // Every complete segment must be one a key could have: this also rules out "../".
      assertValidKey(folder.slice(0, -1));
      if (folder.startsWith(`${TEMP_DIR}/`))
        throw new InvalidKeyError(prefix, `"${TEMP_DIR}/" is reserved by LocalStorage`);
    }
    if (prefix.includes('\0') || prefix.includes('\\'))
      throw new InvalidKeyError(prefix, 'no NUL or backslash');
    return { folder, namePrefix: prefix.slice(slash + 1) };
  }

  /**
   * The entries of folder `folder` (a key prefix ending in `/`, or `''`) whose names start with
   * `namePrefix`, in S3 order: a folder sorts as its name plus `/`, where all its keys begin.
   * Ordering names that way within each folder gives S3's global order: a file name has no `/`,
   * so it compares with `d/...` the same way it compares with `d/`.
   */
  async #readFolder(folder: string, namePrefix: string): Promise<Dirent[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, ...folder.split('/')), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw this.#wrap(err, 'list', folder);
    }
    const sortName = (entry: Dirent) => (entry.isDirectory() ? `${entry.name}/` : entry.name);
    return entries
      .filter(
        (entry) =>
          entry.name.startsWith(namePrefix) &&
          (entry.isFile() || entry.isDirectory()) &&
          !(folder === '' && entry.name === TEMP_DIR),
      )
      .sort((a, b) => compareKeys(sortName(a), sortName(b)));
  }

  async *#walk(folder: string, namePrefix: string, options: ListOptions): AsyncGenerator<ObjectInfo> {
    const { startAfter, signal } = options;
    for (const entry of await this.#readFolder(folder, namePrefix)) {
      signal?.throwIfAborted();
      if (entry.isDirectory()) {
        const sub = `${folder}${entry.name}/`;
        // Skip a folder whose keys all sort before startAfter (none of them can come after it).
        if (startAfter !== undefined && !startAfter.startsWith(sub) && compareKeys(sub, startAfter) < 0)
          continue;
        yield* this.#walk(sub, '', options);
        continue;
      }
      const key = `${folder}${entry.name}`;
      if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
      let info: Stats;
      try {
        info = await lstat(join(this.root, ...key.split('/')));
      } catch (err) {
        if (isMissing(err)) continue; // deleted since the folder was read
        throw this.#wrap(err, 'list', key);
      }
      if (info.isFile()) yield toInfo(key, info);
    }
  }

  async #holdsAnObject(folder: string): Promise<boolean> {
    for (const entry of await this.#readFolder(folder, '')) {
      if (entry.isFile() || (await this.#holdsAnObject(`${folder}${entry.name}/`))) return true;
    }
    return false;
  }

  async #moveIntoPlace(temp: string, target: string): Promise<void> {
    // A concurrent delete may remove a parent folder that has just become empty, between our
    // mkdir and our rename: create it again and retry.
    for (let attempt = 1; ; attempt++) {
      await mkdir(resolve(target, '..'), { recursive: true });
      try {
        await rename(temp, target);
        return;
      } catch (err) {
        if (errorCode(err) !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
  }

  /** Remove the folders above `key` that its deletion left empty, up to the root. */
  async #removeEmptyFolders(key: string): Promise<void> {
    const segments = key.split('/').slice(0, -1);
    while (segments.length > 0) {
      try {
        await rmdir(join(this.root, ...segments));
      } catch {
        return; // not empty (or already gone, or written to again): stop here
      }
      segments.pop();
    }
  }

  #notFoundOr(err: unknown, operation: string, key: string): Error {
    const code = errorCode(err);
    if (isMissing(err) || code === 'EISDIR') return new ObjectNotFoundError(key, { url: this.url }, err);
    return this.#wrap(err, operation, key);
  }

  #wrap(err: unknown, operation: string, key: string): Error {
    if (TributaryError.isInstance(err)) return err;
    const code = errorCode(err);
    const hint =
      code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST'
        ? ' (locally, a key cannot be both an object and a folder, e.g. "a" and "a/b")'
        : '';
    return new StorageError(
      `LocalStorage ${operation} of ${JSON.stringify(key)} in ${this.root} failed: ${(err as Error)?.message ?? String(err)}${hint}`,
      {
        cause: err,
        retryable: classifyError(err).retryable,
        context: { key, url: this.url, ...(code ? { errno: code } : {}) },
      },
    );
  }
}

function toInfo(key: string, info: Stats): ObjectInfo {
  return {
    key,
    size: info.size,
    lastModified: info.mtime,
    // Not an MD5 (that would mean reading the file on every head): it changes whenever the file
    // is replaced, which is what callers compare ETags for.
    etag: `${Math.trunc(info.mtimeMs * 1000).toString(16)}-${info.size.toString(16)}-${info.ino.toString(16)}`,
  };
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && MISSING.has(code);
}
