import type { EventListener } from '@tributary/core';
import {
  type Catalog,
  crawl,
  type PutTableResult,
  type Storage,
  type TableDefinition,
} from '@tributary/lake';

/** A table of the lake as the pipeline catalogs it: its zone, its folder and its catalog name. */
export interface LakeTable {
  storage: Storage;
  folder: string;
  name: string;
}

/** What one registration did. */
export interface Registration {
  /** The crawled definition (the files' own column names). */
  definition: TableDefinition;
  /** What the catalog did with it, partitions included. */
  result: PutTableResult;
}

/** Follows a writer's flushes (see {@link CatalogSync.follow}). */
export interface CatalogFollower {
  /** Pass it the writer's events. */
  readonly listener: EventListener;
  /** Waits for the registrations asked for so far; rejects with the first that failed. */
  settle(): Promise<void>;
}

/**
 * Keeps the catalog (Glue in aws mode, the local catalog otherwise) in step with what the
 * pipelines write, so that a table's partitions are there as soon as its files are:
 * `register` after each commit crawls the table and puts it with every partition (idempotent:
 * partitions the catalog has count as existing); `follow` registers a delivered table again
 * each time a flush lands in a folder it has not seen. A table whose Glue parameters enable
 * partition projection gets no partitions registered (the catalog says `projected`).
 *
 * @example
 * ```ts
 * const sync = new CatalogSync(env.catalog);
 * const raw = sync.follow({ storage: lake.raw, folder: 'sensors', name: 'raw_sensors' });
 * await deliverToLake({ source, storage: lake.raw, onEvent: raw.listener });
 * await raw.settle();
 * await sync.register({ storage: lake.processed, folder: 'sensors', name: 'sensors' });
 * ```
 */
export class CatalogSync {
  readonly #catalog: Catalog;
  readonly #signal: AbortSignal | undefined;
  #database: Promise<unknown> | undefined;

  constructor(catalog: Catalog, signal?: AbortSignal) {
    this.#catalog = catalog;
    this.#signal = signal;
  }

  /** Crawl the table and put it, with its partitions, in the catalog. The crawl stops on the abort signal. */
  register(table: LakeTable): Promise<Registration> {
    return this.#register(table, this.#signal);
  }

  async #register(table: LakeTable, signal: AbortSignal | undefined): Promise<Registration> {
    this.#database ??= this.#catalog.ensureDatabase();
    await this.#database;
    const definition = await crawl(table.storage, table.folder, {
      name: table.name,
      ...(signal ? { signal } : {}),
    });
    return { definition, result: await this.#catalog.putTable(definition) };
  }

  /**
   * A listener for a writer's `flush` events: a flush into a folder of `table` not seen before
   * registers the table again (one registration at a time; flushes that arrive meanwhile are
   * covered by the next). `settle()` waits for them and rethrows a failure. They ignore the abort
   * signal, as a delivery drains on abort: what was flushed gets registered.
   */
  follow(table: LakeTable, onRegistered?: (result: PutTableResult) => void): CatalogFollower {
    const prefix = `${table.folder}/`;
    const seen = new Set<string>();
    let chain: Promise<void> = Promise.resolve();
    let queued = false;
    let failure: { error: unknown } | undefined;
    const request = () => {
      if (queued) return;
      queued = true;
      chain = chain.then(async () => {
        queued = false;
        if (failure) return;
        try {
          const { result } = await this.#register(table, undefined);
          onRegistered?.(result);
        } catch (error) {
          failure = { error };
        }
      });
    };
    return {
      listener: (event) => {
        if (event.type !== 'flush' || !event.target?.startsWith(prefix)) return;
        const folder = event.target.slice(0, event.target.lastIndexOf('/') + 1);
        if (seen.has(folder)) return;
        seen.add(folder);
        request();
      },
      settle: async () => {
        await chain;
        if (failure) throw failure.error;
      },
    };
  }
}
