// The shapes Lambda uses for a Kinesis event source mapping, written out here so that the
// example needs no @types/aws-lambda: only the fields the handler and the local runner touch,
// with Lambda's names.

/** The Kinesis part of one event record: `data` is the record's bytes in base64. */
export interface KinesisStreamRecordPayload {
  kinesisSchemaVersion: string;
  partitionKey: string;
  sequenceNumber: string;
  /** Base64 of the record's data: for a KPL aggregate, the whole aggregate (Lambda does not de-aggregate). */
  data: string;
  /** Seconds since the epoch, with a fraction (Kinesis' `ApproximateArrivalTimestamp`). */
  approximateArrivalTimestamp: number;
}

/** One record of a Kinesis-triggered invocation. */
export interface KinesisStreamRecord {
  kinesis: KinesisStreamRecordPayload;
  eventSource: string;
  eventVersion: string;
  /** `<shardId>:<sequenceNumber>`. */
  eventID: string;
  eventName: string;
  invokeIdentityArn: string;
  awsRegion: string;
  eventSourceARN: string;
}

/**
 * What Lambda passes to a handler for a Kinesis event source mapping: a batch of one shard's
 * records, in order.
 *
 * @example
 * ```ts
 * const response = await handler({ Records: [record] } satisfies KinesisStreamEvent);
 * ```
 */
export interface KinesisStreamEvent {
  Records: KinesisStreamRecord[];
}

/** One record Lambda should retry: its sequence number. */
export interface KinesisBatchItemFailure {
  itemIdentifier: string;
}

/**
 * The partial batch response (with `ReportBatchItemFailures` on the event source mapping):
 * Lambda checkpoints before the lowest sequence number listed and retries from it; an empty
 * list means the whole batch succeeded.
 *
 * @example
 * ```ts
 * const response: KinesisStreamBatchResponse = { batchItemFailures: [{ itemIdentifier: '4959…' }] };
 * ```
 */
export interface KinesisStreamBatchResponse {
  batchItemFailures: KinesisBatchItemFailure[];
}
