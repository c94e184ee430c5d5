import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionError } from '../../src/errors.js';
import {
  byDay,
  byField,
  byHour,
  type PartitionSpec,
  partitionPath,
  partitionPathOf,
  partitionValuesOf,
} from '../../src/partitions.js';

const uncached = (specs: readonly PartitionSpec[], record: Record<string, unknown>) =>
  partitionPath(partitionValuesOf(specs, record));

// Times from year 1000 to 9000, often on or next to an hour or day boundary.
const times = fc.oneof(
  fc.integer({ min: -30_610_224_000_000, max: 221_845_392_000_000 }),
  fc
    .tuple(fc.integer({ min: -8_000_000, max: 60_000_000 }), fc.constantFrom(-1, 0, 1, 999, 3_599_999))
    .map(([hours, ms]) => hours * 3_600_000 + ms),
);

describe('partitionPathOf', () => {
  it.each([
    ['byHour', byHour('at')],
    ['byDay', byDay('at')],
    ['byDay with another name', byDay('at', 'day')],
  ])('%s: every record gets the same path as partitionPath gives, in any order of times', (_name, specs) => {
    fc.assert(
      fc.property(fc.array(times, { minLength: 1, maxLength: 200 }), (millis) => {
        const pathOf = partitionPathOf(specs);
        for (const ms of millis) {
          const record = { at: new Date(ms) };
          expect(pathOf(record)).toBe(uncached(specs, record));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives the path for mixed and field specs too, evaluated per record', () => {
    const specs = [byField('type'), ...byHour('at')];
    const pathOf = partitionPathOf(specs);

    const paths = ['a/b', 'temperature'].map((type) =>
      pathOf({ type, at: new Date(Date.UTC(2026, 0, 2, 3)) }),
    );

    expect(paths).toEqual(['type=a%2Fb/dt=2026-01-02/hour=03/', 'type=temperature/dt=2026-01-02/hour=03/']);
  });

  it('is not fooled by a spec that only looks like byHour (a copy with another value)', () => {
    const [dt, hour] = byHour('at') as [PartitionSpec, PartitionSpec];
    const shifted: PartitionSpec = { ...hour, value: () => 'x' };
    const pathOf = partitionPathOf([dt, shifted]);

    expect(pathOf({ at: new Date(Date.UTC(2026, 0, 2, 3)) })).toBe('dt=2026-01-02/hour=x/');
  });

  it('throws what the specs throw for a value that is not a Date, and for an invalid Date', () => {
    const pathOf = partitionPathOf(byHour('at'));

    expect(() => pathOf({ at: '2026-01-02' })).toThrow(/must be a timestamp/);
    expect(() => pathOf({ at: new Date(Number.NaN) })).toThrow(RangeError);
    expect(() => pathOf({ at: new Date(Number.NaN) })).toThrow(RangeError);
  });

  it('refuses a partition name that cannot be a folder before any record', () => {
    expect(() => partitionPathOf([{ name: 'a/b', value: () => 'x' }])).toThrow(PartitionError);
  });
});
