import type { KinesisClient, Shard } from '@aws-sdk/client-kinesis';
import type { SdkMiddlewareHost } from '@tributary/core';
import type { Checkpoint } from './checkpoints.js';
import type { StartingPosition } from './kinesis-source-options.js';
import { loadKinesis } from './load-kinesis.js';

// What a source knows of a stream's shards: where each one stands, which may be read now, and how
// they are listed.

/** A position inside a shard: a Kinesis record, and a user record inside it (`undefined`: all of it). */
export interface Position {
  sequenceNumber: string;
  subSequenceNumber: number | undefined;
}

/** One shard as a source reads it. */
export interface ShardState {
  readonly id: string;
  readonly parents: readonly string[];
  readonly closed: boolean;
  readonly start: StartingPosition;
  status: 'waiting' | 'reading' | 'finished';
  /** The last record pushed to the queue in this run. */
  lastPushed: Position | undefined;
  /** Skip user records up to this position (resuming inside an aggregate). */
  skip: Position | undefined;
  lastCallAt: number;
  /** When the shard started returning nothing; `undefined` while it returns records. */
  idleSince: number | undefined;
  behind: number;
}

/** Order of two positions of the same shard; a whole record comes after each of its user records. */
export function comparePositions(a: Position, b: Position): number {
  const sa = BigInt(a.sequenceNumber);
  const sb = BigInt(b.sequenceNumber);
  if (sa !== sb) return sa < sb ? -1 : 1;
  const ua = a.subSequenceNumber ?? Number.POSITIVE_INFINITY;
  const ub = b.subSequenceNumber ?? Number.POSITIVE_INFINITY;
  return ua === ub ? 0 : ua < ub ? -1 : 1;
}

/** The position of a checkpoint that has a sequence number. */
export function positionOf(checkpoint: Checkpoint): Position {
  return {
    sequenceNumber: checkpoint.sequenceNumber as string,
    subSequenceNumber: checkpoint.subSequenceNumber,
  };
}

/** Every shard of the stream (`ListShards`, paginated). `prepare` adds middleware to each command. */
export async function listShards(
  client: KinesisClient,
  streamName: string,
  options: { signal: AbortSignal; prepare: <C extends SdkMiddlewareHost>(command: C) => C },
): Promise<Shard[]> {
  const { ListShardsCommand } = await loadKinesis();
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const token = nextToken;
    const page = await client.send(
      // Kinesis refuses StreamName next to a NextToken.
      options.prepare(
        new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token }),
      ),
      { abortSignal: options.signal },
    );
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken ?? undefined;
  } while (nextToken !== undefined);
  return shards;
}

/** The state of a shard just listed, not read yet, to be read from `start` when it has no checkpoint. */
export function newShardState(id: string, shard: Shard, start: StartingPosition): ShardState {
  return {
    id,
    parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter(
      (parent): parent is string => typeof parent === 'string' && parent !== '',
    ),
    closed: shard.SequenceNumberRange?.EndingSequenceNumber != null,
    start,
    status: 'waiting',
    lastPushed: undefined,
    skip: undefined,
    lastCallAt: Number.NEGATIVE_INFINITY,
    idleSince: undefined,
    behind: 0,
  };
}

/**
 * Whether a waiting shard may be read: each of its parents was read to its end (or is gone past the
 * retention), so that the records of one partition key keep their order across a reshard.
 */
export function parentsFinished(shard: ShardState, shards: ReadonlyMap<string, ShardState>): boolean {
  return shard.parents.every((parent) => {
    const state = shards.get(parent);
    return state === undefined || state.status === 'finished';
  });
}

/**
 * Whether a shard that may be read holds nothing to read: it was finished in an earlier run, or it
 * was closed before a `LATEST` start.
 */
export function nothingToRead(shard: ShardState, checkpoint: Checkpoint | undefined): boolean {
  return (
    checkpoint?.finished === true || (shard.closed && shard.start === 'LATEST' && checkpoint === undefined)
  );
}
