// What the sensor transforms share: their error, the checks of their options, UTC day and hour
// arithmetic, and how they name and make their writes.
import { createHash } from 'node:crypto';
import { type EventListener, type OptionsError, optionChecks } from '@tributary/core';
import {
  checkIcebergCatalog,
  checkTableFormat as checkLakeTableFormat,
  type IcebergCatalog,
  type LakeTableFormat,
  type Storage,
  type WriteDatasetResult,
} from '@tributary/lake';
import { SensorTransformError } from '../errors.js';

export { SensorTransformError };

export const HOUR_MS = 3_600_000;
/** Part of every write id: a change in how the output is computed must give new file names. */
const VERSION = 'tributary-sensors-transforms/1';

// ---------------------------------------------------------------------------------------------
// Options

const check = optionChecks('Sensor transform', 'SENSOR_TRANSFORM_OPTIONS_INVALID');

export const invalidOption: (option: string, value: unknown, expected: string) => OptionsError =
  check.invalid;

export function checkStorage(option: string, value: unknown): Storage {
  const storage = value as Partial<Storage> | null;
  if (
    typeof storage !== 'object' ||
    storage === null ||
    typeof storage.list !== 'function' ||
    typeof storage.listPrefixes !== 'function' ||
    typeof storage.get !== 'function' ||
    typeof storage.put !== 'function'
  ) {
    throw invalidOption(option, value, 'a lake Storage (LocalStorage, S3Storage, MemoryStorage)');
  }
  return value as Storage;
}

export function checkPath(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'string' &&
    value !== '' &&
    value
      .split('/')
      .every((s) => s !== '' && s !== '.' && s !== '..' && !s.startsWith('_') && !s.includes('\\'));
  if (!ok)
    throw invalidOption(option, value, 'a folder path such as "sensors" (no empty, "_" or ".." segment)');
  return value;
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function checkDates(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalidOption('dates', value, 'an array of YYYY-MM-DD days');
  for (const day of value) {
    if (typeof day !== 'string' || !isCalendarDay(day)) {
      throw invalidOption('dates', day, 'an array of calendar days as YYYY-MM-DD');
    }
  }
  return [...new Set(value as string[])].sort();
}

export function checkTableFormat(value: unknown): LakeTableFormat {
  return checkLakeTableFormat(check, value);
}

export function checkCatalog(
  option: string,
  value: unknown,
  tableFormat: LakeTableFormat,
): IcebergCatalog | undefined {
  return checkIcebergCatalog(check, option, value, { tableFormat });
}

export function checkListener(value: unknown): EventListener | undefined {
  return value === undefined ? undefined : check.function<EventListener>('onEvent', value);
}

export function checkOptions(value: unknown, name: string): Record<string, unknown> {
  return check.object(name, value);
}

// ---------------------------------------------------------------------------------------------
// Time

export function isCalendarDay(day: string): boolean {
  if (!ISO_DAY.test(day)) return false;
  const time = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === day;
}

/** The first hour (since the epoch) of a `YYYY-MM-DD` day, UTC. */
export function hourOfDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / HOUR_MS;
}

/** The `YYYY-MM-DD` day of an hour since the epoch, UTC. */
export function dayOfHour(hour: number): string {
  return new Date(hour * HOUR_MS).toISOString().slice(0, 10);
}

export function shiftDay(day: string, days: number): string {
  return dayOfHour(hourOfDay(day) + 24 * days);
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes only when there is something to write: an empty run must not add a manifest version.
 * The write reads `records` itself after the first (no generator in between: one less await per
 * record), and ending it early ends `records`.
 */
export async function writeIfAny<T>(
  records: AsyncGenerator<T>,
  write: (records: AsyncIterable<T>) => Promise<WriteDatasetResult>,
): Promise<WriteDatasetResult | undefined> {
  const first = await records.next();
  if (first.done) return undefined;
  let peeked: IteratorResult<T> | undefined = first;
  const result = await write({
    [Symbol.asyncIterator]: () => ({
      next(): Promise<IteratorResult<T>> {
        if (peeked === undefined) return records.next();
        const next = peeked;
        peeked = undefined;
        return Promise.resolve(next);
      },
      return: (value?: unknown) => records.return(value as never),
    }),
  });
  // Every record was validated before; one the writer still refuses would otherwise sit unseen in the result.
  if (result.invalidCount > 0) {
    const issues = result.invalid[0]?.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new SensorTransformError(
      `${result.invalidCount} records did not fit the table's schema (${issues})`,
      {
        code: 'SENSOR_TRANSFORM_FAILED',
      },
    );
  }
  return result;
}

/** The write id of one output: the same kind and input give the same id, so the same file names. */
export function writeIdOf(kind: string, parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of [VERSION, kind, ...parts]) hash.update(part).update('\0');
  return `${kind}-${hash.digest('hex').slice(0, 32)}`;
}
