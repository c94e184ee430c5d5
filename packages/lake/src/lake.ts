import { ConfigError, loadConfig, OptionsError, type TributaryConfig, TributaryError } from '@tributary/core';
import { LocalStorage } from './local-storage.js';
import type { Storage } from './storage.js';

/** The lake's zones. */
export type ZoneName = 'raw' | 'processed' | 'curated';
export const ZONES: readonly ZoneName[] = ['raw', 'processed', 'curated'];

/**
 * The three zones of the lake, each its own storage: a folder locally, a bucket (and prefix) on
 * AWS.
 *
 * @example
 * ```ts
 * const lake = localLake(loadConfig());
 * await writeDataset(readings, { storage: lake.processed, table: 'sensors', schema: readingSchema });
 * ```
 */
export interface Lake {
  readonly raw: Storage;
  readonly processed: Storage;
  readonly curated: Storage;
  zone(name: ZoneName): Storage;
}

/**
 * A lake from three storages of your choosing (for tests: three `MemoryStorage`s).
 *
 * @example
 * ```ts
 * const lake = createLake({ raw: new MemoryStorage(), processed: new MemoryStorage(), curated: new MemoryStorage() });
 * ```
 */
export function createLake(zones: Record<ZoneName, Storage>): Lake {
  for (const name of ZONES) {
    if (!zones[name]) {
      throw new OptionsError(`The lake needs a storage for the ${name} zone`, {
        code: 'LAKE_OPTIONS_INVALID',
        option: name,
      });
    }
  }
  return Object.freeze({
    raw: zones.raw,
    processed: zones.processed,
    curated: zones.curated,
    zone(name: ZoneName): Storage {
      const storage = zones[name];
      if (!storage)
        throw new TributaryError(`No zone named ${JSON.stringify(name)}`, { code: 'ZONE_INVALID' });
      return storage;
    },
  });
}

/**
 * The local lake: one folder per zone, from `TRIBUTARY_LAKE_RAW|PROCESSED|CURATED` or
 * `TRIBUTARY_LAKE_DIR` (default `.tributary/lake/<zone>`).
 *
 * @example
 * ```ts
 * const lake = localLake(); // reads process.env
 * ```
 */
export function localLake(config: TributaryConfig = loadConfig()): Lake {
  if (config.mode !== 'local') {
    throw new ConfigError('localLake needs TRIBUTARY_MODE=local; use s3Lake from @tributary/lake/s3 on AWS', {
      variable: 'TRIBUTARY_MODE',
    });
  }
  return createLake({
    raw: new LocalStorage({ root: config.lake.raw }),
    processed: new LocalStorage({ root: config.lake.processed }),
    curated: new LocalStorage({ root: config.lake.curated }),
  });
}
