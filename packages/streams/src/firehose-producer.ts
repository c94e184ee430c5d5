import type { FirehoseClient } from '@aws-sdk/client-firehose';
import { describeValue, encodeNdjsonLine } from '@tributary/core';
import {
  assertOptionsObject,
  BaseProducer,
  type EntryOutcome,
  type Envelope,
  type ProducerCommonOptions,
  resolveCommonOptions,
  type WireEntry,
} from './base-producer.js';
import { ProducerOptionsError } from './errors.js';

export interface FirehoseProducerOptions<T = unknown> extends ProducerCommonOptions<T> {
  /** The client to send with. */
  client: FirehoseClient;
  /** A Direct PUT delivery stream. */
  deliveryStreamName: string;
  /**
   * End every record with `\n` when the encoder did not, so that the objects Firehose writes
   * (it concatenates records with no separator) are NDJSON. Default true.
   */
  newlineDelimited?: boolean;
}

// PutRecordBatch: 500 records and 4 MiB per call; 1,000 KiB per record.
const MAX_RECORDS = 500;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_RECORD_BYTES = 1_000 * 1024;
const STREAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NEWLINE = 0x0a;

type FirehoseModule = typeof import('@aws-sdk/client-firehose');
let firehoseModule: Promise<FirehoseModule> | undefined;

// Loaded on first use, so that importing @tributary/streams never needs the optional peer.
function loadFirehose(): Promise<FirehoseModule> {
  firehoseModule ??= import('@aws-sdk/client-firehose');
  return firehoseModule;
}

function defaultEncode(record: unknown): string {
  return encodeNdjsonLine(record);
}

/**
 * Sends records to a Firehose delivery stream with `PutRecordBatch`: batches of at most 500
 * records and 4 MiB, each record at most 1,000 KiB (a larger one is refused with an
 * `ItemTooLargeError`) and ending with `\n`, so that the delivered objects are NDJSON. When
 * `FailedPutCount > 0`, only the entries whose `RequestResponses[i].ErrorCode` is set are sent
 * again, and whole requests that failed for a retryable reason too: each goes back into the send
 * queue and, after a full-jitter backoff, out with newer records in a later request, holding no
 * request slot while it waits. A record not delivered within `recordTtlMs` fails with
 * `RECORD_TTL_EXPIRED`.
 *
 * `close()` resolves with `{ sent, retried, failed }`, or rejects with a
 * `PartialBatchFailureError` holding every record that failed and its error code.
 *
 * @example
 * ```ts
 * import { FirehoseClient } from '@aws-sdk/client-firehose';
 * import { FirehoseProducer } from '@tributary/streams/firehose';
 *
 * const producer = new FirehoseProducer<Reading>({ client: new FirehoseClient({}), deliveryStreamName: 'readings-raw' });
 * await producer.putMany(readings);
 * await producer.close(); // throws PartialBatchFailureError if any record failed
 * ```
 */
export class FirehoseProducer<T = unknown> extends BaseProducer<T> {
  private readonly client: FirehoseClient;
  private readonly deliveryStreamName: string;
  private readonly newlineDelimited: boolean;

  constructor(options: FirehoseProducerOptions<T>) {
    const resolved = resolveOptions(options);
    super(resolved.common, {
      source: 'firehose-producer',
      context: { stream: resolved.deliveryStreamName },
      maxRecordBytes: MAX_RECORD_BYTES,
      maxRequestCount: MAX_RECORDS,
      maxRequestBytes: MAX_REQUEST_BYTES,
      batchMaxCount: MAX_RECORDS,
      batchMaxBytes: MAX_REQUEST_BYTES,
    });
    this.client = resolved.client;
    this.deliveryStreamName = resolved.deliveryStreamName;
    this.newlineDelimited = resolved.newlineDelimited;
  }

  protected partitionKeyOf(): string {
    return '';
  }

  protected override finishData(data: Uint8Array): Uint8Array {
    if (!this.newlineDelimited || data[data.byteLength - 1] === NEWLINE) return data;
    const out = new Uint8Array(data.byteLength + 1);
    out.set(data, 0);
    out[data.byteLength] = NEWLINE;
    return out;
  }

  protected toEntries(batch: Envelope<T>[]): WireEntry<T>[] {
    return batch.map((envelope) => this.entryOf(envelope, -1));
  }

  protected async send(entries: readonly WireEntry<T>[]): Promise<EntryOutcome[]> {
    const { PutRecordBatchCommand } = await loadFirehose();
    const output = await this.client.send(
      this.counted(
        new PutRecordBatchCommand({
          DeliveryStreamName: this.deliveryStreamName,
          Records: entries.map((entry) => ({ Data: entry.data })),
        }),
      ),
    );
    const responses = output.RequestResponses ?? [];
    const failedCount = output.FailedPutCount ?? 0;
    return entries.map((_entry, index): EntryOutcome => {
      const response = responses[index];
      if (response === undefined) {
        // No per-record answer: only trust the request as a whole when it says nothing failed.
        return failedCount === 0 && responses.length === 0
          ? { ok: true }
          : {
              ok: false,
              code: 'MISSING_RESULT',
              message: 'PutRecordBatch returned no result here',
              retryable: true,
            };
      }
      if (response.ErrorCode !== undefined && response.ErrorCode !== null && response.ErrorCode !== '') {
        return { ok: false, code: response.ErrorCode, message: response.ErrorMessage };
      }
      return { ok: true };
    });
  }
}

function invalid(option: string, value: unknown, expected: string): ProducerOptionsError {
  return new ProducerOptionsError(
    `FirehoseProducer option ${option} must be ${expected}, got ${describeValue(value)}`,
    option,
  );
}

function resolveOptions<T>(options: FirehoseProducerOptions<T>) {
  assertOptionsObject('FirehoseProducer', options);
  const common = resolveCommonOptions<T>('FirehoseProducer', options, defaultEncode);
  const { client, deliveryStreamName, newlineDelimited = true } = options;
  if (typeof client !== 'object' || client === null || typeof client.send !== 'function') {
    throw invalid('client', client, 'a FirehoseClient');
  }
  if (typeof deliveryStreamName !== 'string' || !STREAM_NAME.test(deliveryStreamName)) {
    throw invalid('deliveryStreamName', deliveryStreamName, '1 to 64 letters, digits, "_", "." or "-"');
  }
  if (typeof newlineDelimited !== 'boolean') throw invalid('newlineDelimited', newlineDelimited, 'a boolean');
  return Object.freeze({ common, client, deliveryStreamName, newlineDelimited });
}
