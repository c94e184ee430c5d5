import type { StageTracker } from './stages.js';

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Where to draw. Default `process.stderr`. */
  stream?: NodeJS.WriteStream;
  /**
   * Redraw in place with ANSI escapes. Default: when `stream` is a TTY and `CI` is not set;
   * otherwise a plain line is printed every `plainIntervalMs`.
   */
  live?: boolean;
  /** Redraw period on a TTY. Default 200 ms. */
  liveIntervalMs?: number;
  /** Period of the plain lines. Default 5,000 ms. */
  plainIntervalMs?: number;
}

/** A running progress display. */
export interface Progress {
  /** Print a line above the display (it is redrawn below). */
  log(line: string): void;
  /** Stop drawing and clear the live lines. */
  stop(): void;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The display's lines: the running stage, then one line per source that emitted in it. */
export function progressLines(stages: StageTracker): string[] {
  const elapsed = stages.elapsed();
  const totals = stages.totals.stats();
  const head = `tributary demo · ${elapsed.toFixed(1)} s · ${stages.figures().length} stages done · ${totals.retries} retries · ${totals.failures} failed`;
  const stage = stages.current;
  if (!stage) return [head];
  const seconds = (performance.now() - stage.startedAt) / 1000;
  const lines = [head, `▸ ${stage.pipeline}: ${stage.name} (${seconds.toFixed(1)} s)`];
  for (const source of stage.counters.sources()) {
    const s = stage.counters.stats(source);
    const records = Math.max(s.recordsOut, s.recordsIn);
    const rate = seconds > 0 ? records / seconds : 0;
    const extra = [
      s.bytesOut || s.bytesIn ? bytes(Math.max(s.bytesOut, s.bytesIn)) : '',
      s.flushes ? `${s.flushes} flushes` : '',
      s.retries ? `${s.retries} retries` : '',
      s.failures ? `${fmt(s.failures)} failed` : '',
    ].filter(Boolean);
    lines.push(
      `    ${source}: ${fmt(records)} records · ${fmt(rate)}/s${extra.length ? ` · ${extra.join(' · ')}` : ''}`,
    );
  }
  return lines;
}

/**
 * Draw the tracker's progress: redrawn in place on a terminal, plain periodic lines in logs and CI.
 *
 * @example
 * ```ts
 * const stages = new StageTracker();
 * const progress = startProgress(stages);
 * try { await runQuickstart({ out, stages }); } finally { progress.stop(); }
 * ```
 */
export function startProgress(stages: StageTracker, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const live = options.live ?? (stream.isTTY === true && !process.env.CI);
  let drawn = 0;
  const clear = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const lines = progressLines(stages);
    const width = stream.columns && stream.columns > 20 ? stream.columns : 120;
    clear();
    stream.write(`${lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n')}\n`);
    drawn = lines.length;
  };
  let lastStage: string | undefined;
  const plain = () => {
    const lines = progressLines(stages);
    stream.write(`${lines.map((l) => l.trim()).join(' | ')}\n`);
  };
  const timer = live
    ? setInterval(draw, options.liveIntervalMs ?? 200)
    : setInterval(plain, options.plainIntervalMs ?? 5_000);
  // A plain display also says when a stage starts, so a log shows every stage at least once.
  const watcher = live
    ? undefined
    : setInterval(() => {
        const name = stages.current ? `${stages.current.pipeline}: ${stages.current.name}` : undefined;
        if (name && name !== lastStage) stream.write(`▸ ${name}\n`);
        lastStage = name ?? lastStage;
      }, 100);
  timer.unref();
  watcher?.unref();
  return {
    log(line) {
      if (live) clear();
      stream.write(`${line}\n`);
      if (live) draw();
    },
    stop() {
      clearInterval(timer);
      if (watcher) clearInterval(watcher);
      if (live) clear();
    },
  };
}
