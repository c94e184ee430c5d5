import type { FirehoseClient } from '@aws-sdk/client-firehose';
import { BaseProducer } from './base-producer.js';
import type { Envelope } from './producer-ledger.js';
import {
  type ProducerCommonOptions,
  type ProducerService,
  resolveProducerOptions,
} from './producer-options.js';
import { type EntryOutcome, entryOf, outcomeOf, type WireEntry } from './send-queue.js';

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
const FIREHOSE: ProducerService = Object.freeze({
  owner: 'FirehoseProducer',
  source: 'firehose-producer',
  clientName: 'FirehoseClient',
  streamOption: 'deliveryStreamName',
  maxStreamNameLength: 64,
  maxRecordBytes: 1_000 * 1024,
  maxRequestCount: 500,
  maxRequestBytes: 4 * 1024 * 1024,
});
const NEWLINE = 0x0a;

type FirehoseModule = typeof import('@aws-sdk/client-firehose');
let firehoseModule: Promise<FirehoseModule> | undefined;

// Loaded on first use, so that importing @tributary/streams never needs the optional peer.
function loadFirehose(): Promise<FirehoseModule> {
  firehoseModule ??= import('@aws-sdk/client-firehose');
  return firehoseModule;
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
    const { common, limits, client, streamName, newlineDelimited } = resolveOptions(options);
    super(common, limits);
    this.client = client;
    this.deliveryStreamName = streamName;
    this.newlineDelimited = newlineDelimited;
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
    return batch.map((envelope) => entryOf(envelope, -1));
  }

  protected async send(entries: readonly WireEntry<T>[]): Promise<EntryOutcome[]> {
    const { PutRecordBatchCommand } = await loadFirehose();
    const Records = entries.map((entry) => ({ Data: entry.data }));
    const command = new PutRecordBatchCommand({ DeliveryStreamName: this.deliveryStreamName, Records });
    const { RequestResponses = [], FailedPutCount = 0 } = await this.client.send(this.counted(command));
    // No per-record answer at all: only trust the request as a whole when it says nothing failed.
    if (RequestResponses.length === 0 && FailedPutCount === 0) return entries.map(() => ({ ok: true }));
    return entries.map((_entry, index) => outcomeOf(RequestResponses[index], 'PutRecordBatch'));
  }
}

function resolveOptions<T>(options: FirehoseProducerOptions<T>) {
  const { check, ...base } = resolveProducerOptions<T, FirehoseClient>(options, FIREHOSE);
  const { newlineDelimited = true } = options;
  if (typeof newlineDelimited !== 'boolean') {
    throw check.invalid('newlineDelimited', newlineDelimited, 'a boolean');
  }
  return { ...base, newlineDelimited };
}
