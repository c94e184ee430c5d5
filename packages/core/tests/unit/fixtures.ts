import { defineSchema, field } from '../../src/index.js';

/** One field of every kind and presence, the input of the mapping golden tests. */
export const everyKind = defineSchema(
  {
    id: field.string({ maxLength: 64 }).describe('deterministic record id'),
    active: field.boolean(),
    rank: field.int32().nullable(),
    volume: field.int64(),
    value: field.double(),
    price: field.decimal(38, 18).optional(),
    small: field.decimal(9, 2),
    mid: field.decimal(18, 4),
    at: field.timestamp().describe("event time, UTC (it's millisecond precision)"),
    day: field.date(),
    tags: field.list(field.string()).nullable(),
    counts: field.list(field.int64()).optional(),
  },
  { primaryKey: ['id'], description: 'Every field kind tributary maps' },
);
