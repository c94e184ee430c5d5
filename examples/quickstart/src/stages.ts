import { EventCounters, type EventListener } from '@tributary/core';
import type { StageFigure } from './report-data.js';

/** What a stage reports when it ends: the records it moved and, when known, their bytes. */
export interface StageOutcome {
  records: number;
  bytes?: number;
}

/** The stage running now, as a progress display reads it. */
export interface RunningStage {
  readonly pipeline: StageFigure['pipeline'];
  readonly name: string;
  /** Counts of this stage's events, per emitting source. */
  readonly counters: EventCounters;
  /** `performance.now()` when it started. */
  readonly startedAt: number;
}

/**
 * Times the pipeline's stages and counts their events: the stages run one after another, so every
 * event belongs to the stage running when it arrives. A stage run twice (one per snapshot)
 * adds up into one figure.
 *
 * @example
 * ```ts
 * const stages = new StageTracker();
 * const rows = await stages.run('crypto', 'raw → processed', () => transform(), (r) => ({ records: r.rows }));
 * console.table(stages.figures());
 * ```
 */
export class StageTracker {
  /** Every event of the run, per source. */
  readonly totals = new EventCounters();
  readonly #figures: StageFigure[] = [];
  #current: RunningStage | undefined;
  readonly #startedAt = performance.now();

  /** Pass it as `onEvent` to every stage. */
  readonly listener: EventListener = (event) => {
    this.totals.listener(event);
    this.#current?.counters.listener(event);
  };

  get current(): RunningStage | undefined {
    return this.#current;
  }

  /** Seconds since the tracker was created. */
  elapsed(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  /** Run `work` as stage `name` of `pipeline`, recording its time, retries and what `outcome` says it moved. */
  async run<T>(
    pipeline: StageFigure['pipeline'],
    name: string,
    work: () => Promise<T>,
    outcome: (result: T) => StageOutcome,
  ): Promise<T> {
    const stage: RunningStage = {
      pipeline,
      name,
      counters: new EventCounters(),
      startedAt: performance.now(),
    };
    this.#current = stage;
    try {
      const result = await work();
      const { records, bytes } = outcome(result);
      const stats = stage.counters.stats();
      this.#add({
        pipeline,
        name,
        records,
        bytes: bytes ?? Math.max(stats.bytesOut, stats.bytesIn),
        seconds: (performance.now() - stage.startedAt) / 1000,
        retries: stats.retries,
      });
      return result;
    } finally {
      this.#current = undefined;
    }
  }

  /** The finished stages, in the order they first ran. */
  figures(): StageFigure[] {
    return this.#figures.map((f) => ({ ...f }));
  }

  #add(figure: StageFigure): void {
    const same = this.#figures.find((f) => f.pipeline === figure.pipeline && f.name === figure.name);
    if (!same) {
      this.#figures.push(figure);
      return;
    }
    same.records += figure.records;
    same.bytes += figure.bytes;
    same.seconds += figure.seconds;
    same.retries += figure.retries;
  }
}
