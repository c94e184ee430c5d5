import { describe, expect, it } from 'vitest';
import { sensorRecordSchema } from '../../src/record.js';
import { fastRecord, LineProblem, parseLine } from '../../src/transforms/raw-reader.js';

const RECORD = {
  id: 'temperature-003:5009',
  sensorId: 'temperature-003',
  type: 'temperature',
  value: 20.13,
  unit: '°C',
  timestamp: '2026-11-23T03:12:48.736Z',
};
const line = (changes: Record<string, unknown>) => JSON.stringify({ ...RECORD, ...changes });

/** Lines around every check of the common path, each on both sides of it. */
const LINES = [
  JSON.stringify(RECORD),
  // Other key orders, a missing, an extra, an inherited-looking and a duplicated key.
  JSON.stringify({ timestamp: RECORD.timestamp, value: 1, unit: 'bar', type: 't', sensorId: 's', id: 's:1' }),
  JSON.stringify({ ...RECORD, unit: undefined }),
  line({ extra: true }),
  `${JSON.stringify(RECORD).slice(0, -1)},"__proto__":{"id":"x"}}`,
  `${JSON.stringify(RECORD).slice(0, -1)},"id":"again:1"}`,
  // Strings: types, lengths at and over a third of the byte limit, multi-byte, lone surrogates.
  line({ id: 5 }),
  line({ sensorId: null }),
  line({ type: ['t'] }),
  line({ id: 'i'.repeat(85) }),
  line({ id: 'i'.repeat(86) }),
  line({ id: 'é'.repeat(128) }),
  line({ id: 'é'.repeat(129) }),
  line({ id: '€'.repeat(86) }),
  line({ unit: 'u'.repeat(10) }),
  line({ unit: 'u'.repeat(11) }),
  line({ unit: '°'.repeat(16) }),
  line({ unit: '°'.repeat(17) }),
  line({ type: 't'.repeat(64) }),
  line({ type: 't'.repeat(65) }),
  '{"id":"a:1","sensorId":"a","type":"t","value":1,"unit":"\\ud800","timestamp":"2026-11-23T03:12:48.736Z"}',
  '{"id":"\\udc00b:1","sensorId":"a","type":"t","value":1,"unit":"u","timestamp":"2026-11-23T03:12:48.736Z"}',
  // Values.
  line({ value: 'hot' }),
  line({ value: null }),
  line({ value: -0 }),
  line({ value: 1.7976931348623157e308 }),
  '{"id":"a:1","sensorId":"a","type":"t","value":1e400,"unit":"u","timestamp":"2026-11-23T03:12:48.736Z"}',
  // Timestamps: epoch ms, fractions, limits, and every other ISO-8601 form.
  line({ timestamp: 1795460400000 }),
  line({ timestamp: 1795460400000.9 }),
  line({ timestamp: -1795460400000.9 }),
  line({ timestamp: 8.64e15 }),
  line({ timestamp: 8.64e15 + 1 }),
  line({ timestamp: -8.64e15 - 1 }),
  line({ timestamp: true }),
  line({ timestamp: '2026-11-23T03:12:48Z' }),
  line({ timestamp: '2026-11-23T03:12:48.7Z' }),
  line({ timestamp: '2026-11-23T03:12:48.7369Z' }),
  line({ timestamp: '2026-11-23T03:12:48.736z' }),
  line({ timestamp: '2026-11-23T03:12:48.736+01:00' }),
  line({ timestamp: '2026-11-23 03:12:48.736Z' }),
  line({ timestamp: '2026-11-23' }),
  line({ timestamp: ' 2026-11-23T03:12:48.736Z' }),
  line({ timestamp: '2026-11-23T03:12:48,736Z' }),
  line({ timestamp: '2024-02-29T00:00:00.000Z' }),
  line({ timestamp: '2026-02-29T00:00:00.000Z' }),
  line({ timestamp: '2000-02-29T00:00:00.000Z' }),
  line({ timestamp: '1900-02-29T00:00:00.000Z' }),
  line({ timestamp: '2026-04-31T00:00:00.000Z' }),
  line({ timestamp: '2026-00-10T00:00:00.000Z' }),
  line({ timestamp: '2026-11-00T00:00:00.000Z' }),
  line({ timestamp: '2026-11-23T24:00:00.000Z' }),
  line({ timestamp: '2026-11-23T23:60:00.000Z' }),
  line({ timestamp: '2026-11-23T23:59:60.000Z' }),
  line({ timestamp: '0000-02-29T00:00:00.000Z' }),
  line({ timestamp: '0004-02-29T00:00:00.000Z' }),
  line({ timestamp: '0099-12-31T23:59:59.999Z' }),
  line({ timestamp: '0100-01-01T00:00:00.000Z' }),
  line({ timestamp: '9999-12-31T23:59:59.999Z' }),
  line({ timestamp: '2026-1a-23T03:12:48.736Z' }),
  line({ timestamp: '2026-11-23T03:12:48.7a6Z' }),
  line({ timestamp: '２０２６-11-23T03:12:48.736Z' }),
];

describe('parseLine', () => {
  describe('parseLine', () => {
    it.each(LINES)('gives what the schema gives, in its field order: %s', (text) => {
      // Arrange
      const expected = sensorRecordSchema.validate(JSON.parse(text));

      // Act
      const parsed = parseLine(text);

      // Assert
      if (expected.ok) {
        expect(parsed).toEqual(expected.value);
        expect(Object.keys(parsed)).toEqual(Object.keys(expected.value));
      } else {
        expect(parsed).toBeInstanceOf(LineProblem);
        expect(parsed).toMatchObject({
          code: 'INVALID_RECORD',
          reason: expected.issues.map((i) => `${i.path || '(record)'}: ${i.message}`).join('; '),
        });
      }
    });

    it('checks the line every producer sends without the schema', () => {
      // Arrange
      const value = JSON.parse(JSON.stringify(RECORD));

      // Act
      const record = fastRecord(value);

      // Assert
      expect(record).toEqual({ ...RECORD, timestamp: new Date(RECORD.timestamp) });
    });

    it('says why a line that is not a JSON object is not a record', () => {
      // Act
      const problems = ['{"id":', 'null', '[1]', '"text"'].map(parseLine);

      // Assert
      expect(problems.map((p) => p instanceof LineProblem && p.code)).toEqual([
        'INVALID_JSON',
        'INVALID_JSON',
        'INVALID_JSON',
        'INVALID_JSON',
      ]);
      expect((problems[0] as LineProblem).reason).toMatch(/^not JSON: /);
      expect((problems[1] as LineProblem).reason).toBe('not a JSON object: null');
    });
  });
});
