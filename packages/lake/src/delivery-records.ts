import { inspect } from 'node:util';
import {
  describeValue,
  encodeNdjsonLine,
  type Schema,
  TributaryError,
  type ValidationIssue,
} from '@tributary/core';
import type { DeliveryData, DeliveryErrorType, DeliveryRecord } from './delivery.js';

// Record classification of the buffered delivery: which records go to the data object, which
// to the error prefix (and as what Firehose error record).

/** One accepted record as the delivery buffers it: its NDJSON line and where it goes. */
export interface DeliveryEntry {
  line: string;
  /** UTF-8 bytes of `line`. */
  size: number;
  arrival: number;
  /** Set for a record bound for the error prefix. */
  errorType?: DeliveryErrorType;
}

export const ERROR_CODES: Record<DeliveryErrorType, string> = {
  'invalid-json': 'INVALID_JSON',
  'validation-failed': 'VALIDATION_FAILED',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns a written record into its entry: a compact JSON line for a JSON object that passes the
 * schema, else a Firehose error record (`attemptsMade`, `arrivalTimestamp`, `errorCode`,
 * `errorMessage`, `attemptEndingTimestamp`, `rawData` in base64, plus `issues` for schema failures).
 */
export function toEntry(
  input: DeliveryRecord | DeliveryData,
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  schema: Schema<any> | undefined,
  now: number,
): DeliveryEntry {
  let data: unknown = input;
  let arrival = now;
  if (isEnvelope(input)) {
    data = input.data;
    if (input.arrivalTime !== undefined) arrival = timeOf(input.arrivalTime);
  }
  const classified = classify(data, schema);
  if (classified.ok) return { line: classified.line, size: Buffer.byteLength(classified.line), arrival };
  const line = `${JSON.stringify({
    attemptsMade: 1,
    arrivalTimestamp: arrival,
    errorCode: classified.code,
    errorMessage: classified.message,
    attemptEndingTimestamp: now,
    rawData: Buffer.from(classified.raw).toString('base64'),
    ...(classified.issues ? { issues: classified.issues } : {}),
  })}\n`;
  return { line, size: Buffer.byteLength(line), arrival, errorType: classified.type };
}

type Classified =
  | { ok: true; line: string }
  | {
      ok: false;
      type: DeliveryErrorType;
      code: string;
      message: string;
      raw: Uint8Array | string;
      issues?: ValidationIssue[];
    };

function isEnvelope(value: unknown): value is DeliveryRecord {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  return keys.includes('data') && keys.every((key) => key === 'data' || key === 'arrivalTime');
}

function timeOf(value: Date | number): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TributaryError(
      `arrivalTime must be a valid Date or epoch milliseconds, got ${describeValue(value)}`,
      {
        code: 'DELIVERY_RECORD_INVALID',
      },
    );
  }
  return ms;
}

// biome-ignore lint/suspicious/noExplicitAny: any schema
function classify(data: unknown, schema: Schema<any> | undefined): Classified {
  let line: string;
  let parsed: unknown;
  let raw: Uint8Array | string;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    raw = data;
    let text: string;
    try {
      text = typeof data === 'string' ? data : utf8.decode(data);
      parsed = JSON.parse(text);
    } catch (error) {
      return invalid(raw, 'INVALID_JSON', `not JSON: ${(error as Error).message}`);
    }
    if (!isJsonObject(parsed))
      return invalid(raw, 'NOT_A_JSON_OBJECT', `expected a JSON object, got ${kindOf(parsed)}`);
    // Compacted from the text, not re-encoded: numbers keep their digits (a JSON.parse round trip
    // would round integers beyond 2^53).
    line = `${compactJson(text)}\n`;
  } else {
    if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) {
      const bytes =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return classify(bytes, schema);
    }
    try {
      line = encodeNdjsonLine(data);
    } catch (error) {
      return invalid(
        inspect(data, { depth: 4 }),
        'UNSERIALIZABLE',
        `cannot encode as JSON: ${(error as Error).message}`,
      );
    }
    raw = line.slice(0, -1);
    if (typeof data !== 'object' || data === null || Array.isArray(data) || !line.startsWith('{')) {
      return invalid(raw, 'NOT_A_JSON_OBJECT', `expected an object, got ${describeValue(data)}`);
    }
    parsed = data;
  }
  if (schema !== undefined) {
    const result = schema.validate(parsed);
    if (!result.ok) {
      const head = result.issues
        .slice(0, 3)
        .map((issue) => `${issue.path || '(record)'}: ${issue.message}`)
        .join('; ');
      return {
        ok: false,
        type: 'validation-failed',
        code: 'VALIDATION_FAILED',
        message: result.issues.length > 3 ? `${head}; and ${result.issues.length - 3} more` : head,
        raw,
        issues: result.issues,
      };
    }
  }
  return { ok: true, line };
}

function invalid(raw: Uint8Array | string, code: string, message: string): Classified {
  return { ok: false, type: 'invalid-json', code, message, raw };
}

function isJsonObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** Remove the whitespace between JSON tokens, leaving strings and numbers byte for byte. */
function compactJson(text: string): string {
  if (!/[ \t\n\r]/.test(text)) return text;
  const parts: string[] = [];
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      if (i > start) parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < text.length) parts.push(text.slice(start));
  return parts.join('');
}
