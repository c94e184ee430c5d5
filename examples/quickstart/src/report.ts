// report.html: one self-contained page (inline CSS, inline SVG drawn here, no script, no network)
// rendered from ReportData. Pure string building, so it is tested without a browser and without
// running the pipelines; a Content-Security-Policy of `default-src 'none'` makes the browser
// refuse any fetch the page might still try.
import { rename, rm, writeFile } from 'node:fs/promises';
import { TributaryError } from '@tributary/core';
import type {
  CoinPriceSeries,
  HourlyAggregate,
  ReportData,
  SensorPoint,
  SensorSeries,
  SnapshotHistoryRun,
  StageFigure,
  TableFigure,
} from './report-data.js';

/**
 * The report could not be rendered or written: `REPORT_DATA_INVALID` (a non-finite number, a
 * timestamp that does not parse, a price that is not positive, a snapshot count that is not an
 * integer >= 0, a snapshot id that is not decimal; `context.field` is its path) or
 * `REPORT_WRITE_FAILED` (`context.path`, the file system error as `cause`).
 *
 * @example
 * ```ts
 * try { await writeReport('out/report.html', data); }
 * catch (err) { if (err instanceof ReportError) console.error(err.code, err.context); }
 * ```
 */
export class ReportError extends TributaryError {
  override name = 'ReportError';

  constructor(
    message: string,
    options: { code: string; cause?: unknown; context?: Record<string, unknown> },
  ) {
    super(message, options);
  }
}

/** Above this many readings a sensor line is decimated to the min and max of each bucket. */
const MAX_LINE_POINTS = 2_000;
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#b07aa1',
  '#edc948',
  '#76b7b2',
  '#ff9da7',
  '#9c755f',
  '#e15759',
  '#bab0ac',
] as const;
const ANOMALY = '#d62728';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  MINUTE,
  5 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
];

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML and SVG, in element content and in quoted attributes alike. */
function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Cuts before escaping, so an entity is never split; `[...text]` keeps surrogate pairs whole. */
function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

function round(n: number): string {
  return String(Math.round(n * 10) / 10);
}

// --- validation -------------------------------------------------------------------------------

function invalid(field: string, expected: string): never {
  throw new ReportError(`report data: ${field} must be ${expected}`, {
    code: 'REPORT_DATA_INVALID',
    context: { field },
  });
}

function finite(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(field, 'a finite number');
}

function time(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) invalid(field, 'an ISO-8601 time');
  return ms;
}

function wholeCount(value: unknown, field: string): void {
  if (!(Number.isInteger(value) && (value as number) >= 0)) invalid(field, 'an integer >= 0');
}

/** An Iceberg snapshot id is a long, carried as decimal text; `''` only for a table with no snapshot yet. */
function snapshotId(value: unknown, snapshots: number | undefined, field: string): void {
  const none = value === '' && (snapshots ?? 0) === 0;
  if (!(none || (typeof value === 'string' && /^-?\d+$/.test(value))))
    invalid(field, 'a decimal snapshot id');
}

/** NaN in a path would make the browser drop the whole shape silently: refuse it up front. */
function validate(data: ReportData): void {
  data.sensors.series.forEach((series, s) => {
    finite(series.range.min, `sensors.series[${s}].range.min`);
    finite(series.range.max, `sensors.series[${s}].range.max`);
    series.points.forEach((point, p) => {
      time(point.t, `sensors.series[${s}].points[${p}].t`);
      finite(point.value, `sensors.series[${s}].points[${p}].value`);
    });
  });
  data.sensors.hourly.forEach((row, r) => {
    for (const key of ['hour', 'count', 'min', 'max', 'mean', 'anomalies'] as const) {
      finite(row[key], `sensors.hourly[${r}].${key}`);
    }
    if (row.p95 !== null) finite(row.p95, `sensors.hourly[${r}].p95`);
    time(`${row.dt}T00:00:00Z`, `sensors.hourly[${r}].dt`);
  });
  data.coins.prices.forEach((coin, c) => {
    coin.points.forEach((point, p) => {
      time(point.t, `coins.prices[${c}].points[${p}].t`);
      if (!(Number.isFinite(point.price) && point.price > 0)) {
        invalid(`coins.prices[${c}].points[${p}].price`, 'a positive finite number');
      }
    });
  });
  data.coins.marketCapShares.forEach((share, i) => {
    if (!(Number.isFinite(share.share) && share.share >= 0)) {
      invalid(`coins.marketCapShares[${i}].share`, 'a finite number >= 0');
    }
  });
  data.pipeline.stages.forEach((stage, i) => {
    for (const key of ['records', 'bytes', 'seconds', 'retries'] as const) {
      finite(stage[key], `pipeline.stages[${i}].${key}`);
    }
  });
  data.pipeline.tables.forEach((table, i) => {
    for (const key of ['rows', 'files', 'bytes'] as const) finite(table[key], `pipeline.tables[${i}].${key}`);
    if (table.snapshots !== undefined) wholeCount(table.snapshots, `pipeline.tables[${i}].snapshots`);
    if (table.snapshotId !== undefined) {
      snapshotId(table.snapshotId, table.snapshots, `pipeline.tables[${i}].snapshotId`);
    }
  });
  data.pipeline.snapshotHistory?.forEach((run, r) => {
    time(run.at, `pipeline.snapshotHistory[${r}].at`);
    const seen = new Set<string>();
    run.tables.forEach((table, t) => {
      const field = `pipeline.snapshotHistory[${r}].tables[${t}]`;
      // One bar and one cell per table and run: a second entry would have to win silently.
      if (seen.has(tableName(table))) invalid(field, 'a table not listed before in its run');
      seen.add(tableName(table));
      wholeCount(table.snapshots, `${field}.snapshots`);
      snapshotId(table.snapshotId, table.snapshots, `${field}.snapshotId`);
    });
  });
}

// --- scales and axes --------------------------------------------------------------------------

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

type Scale = ((value: number) => number) & { domain: [number, number] };

function scale(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return Object.assign((value: number) => r0 + (value - d0) * k, { domain: [d0, d1] as [number, number] });
}

/** The extent of the values, padded so lines do not sit on the frame; never empty. */
function extent(values: number[], pad = 0.06): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const spread = Math.abs(lo) * 0.1 || 1;
    return [lo - spread, hi + spread];
  }
  const margin = (hi - lo) * pad;
  lo -= margin;
  hi += margin;
  return [lo, hi];
}

function timeExtent(times: number[]): [number, number] {
  if (times.length === 0) return [0, HOUR];
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  return lo === hi ? [lo - 30 * MINUTE, hi + 30 * MINUTE] : [lo, hi];
}

/** 1-2-5 ticks inside the domain, with the decimals their step needs. */
function valueTicks([lo, hi]: [number, number], target = 5): { ticks: number[]; decimals: number } {
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toFixed(decimals)));
  return { ticks, decimals };
}

/** UTC-aligned time ticks: the finest step giving at most `max` ticks (whole days beyond 12 h). */
function timeTicks([lo, hi]: [number, number], max = 8): { ticks: number[]; label: (t: number) => string } {
  const span = hi - lo;
  const step = TIME_STEPS.find((s) => span / s <= max) ?? Math.ceil(span / max / DAY) * DAY;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  const label =
    step >= DAY
      ? (t: number) => new Date(t).toISOString().slice(5, 10)
      : (t: number) => {
          const iso = new Date(t).toISOString();
          // Midnight of a run spanning days says which day, the other ticks the time of day.
          return span > DAY && t % DAY === 0 ? iso.slice(5, 10) : iso.slice(11, 16);
        };
  return { ticks, label };
}

/** Time ticks on x unless `xTicks` gives others (the snapshot chart's runs). */
function axes(
  frame: Frame,
  x: Scale,
  y: Scale,
  yLabel: (v: number) => string,
  yTarget = 5,
  xTicks?: { ticks: number[]; label: (t: number) => string },
): string {
  const { left, top, width, right, height, bottom } = frame;
  const x1 = width - right;
  const y1 = height - bottom;
  const xt = xTicks ?? timeTicks(x.domain, Math.max(3, Math.floor((x1 - left) / 55)));
  const yt = valueTicks(y.domain, yTarget);
  const parts = [`<g class="axis">`];
  for (const v of yt.ticks) {
    const py = round(y(v));
    parts.push(
      `<line class="grid" x1="${left}" x2="${x1}" y1="${py}" y2="${py}"/>`,
      `<text x="${left - 4}" y="${py}" text-anchor="end" dominant-baseline="middle">${esc(yLabel(Number(v.toFixed(yt.decimals))))}</text>`,
    );
  }
  for (const t of xt.ticks) {
    const px = round(x(t));
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${y1}" y2="${y1 + 4}"/>`,
      `<text x="${px}" y="${y1 + 15}" text-anchor="middle">${esc(xt.label(t))}</text>`,
    );
  }
  parts.push(`<path class="frame" d="M${left},${top}V${y1}H${x1}"/>`, '</g>');
  return parts.join('');
}

/** `M x,y L x,y …` through the points; one subpath per run of defined values. */
function line(points: Array<[number, number] | null>): string {
  let d = '';
  let pen = false;
  for (const point of points) {
    if (point === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${round(point[0])},${round(point[1])}`;
    pen = true;
  }
  return d;
}

function svg(chart: string, label: string, frame: Frame, body: string): string {
  return (
    `<svg data-chart="${esc(chart)}" role="img" aria-label="${esc(label)}" viewBox="0 0 ${frame.width} ${frame.height}" ` +
    `width="${frame.width}" height="${frame.height}">${body}</svg>`
  );
}

/** ` °C`; nothing for a dimensionless quantity (unit `'1'`, like a power factor), which reads better bare. */
function suffix(unit: string): string {
  return unit === '1' || unit === '' ? '' : ` ${unit}`;
}

function withUnit(unit: string) {
  return (v: number) => `${v}${suffix(unit)}`;
}

// --- charts -----------------------------------------------------------------------------------

/** Keeps the first, the min and the max of each bucket in time order, so spikes survive. */
function decimate(points: { ms: number; value: number }[]): { ms: number; value: number }[] {
  if (points.length <= MAX_LINE_POINTS) return points;
  const size = Math.ceil(points.length / (MAX_LINE_POINTS / 2));
  const kept: { ms: number; value: number }[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    let lo = bucket[0];
    let hi = bucket[0];
    for (const p of bucket) {
      if (lo === undefined || p.value < lo.value) lo = p;
      if (hi === undefined || p.value > hi.value) hi = p;
    }
    if (lo === undefined || hi === undefined) continue;
    kept.push(...(lo === hi ? [lo] : lo.ms <= hi.ms ? [lo, hi] : [hi, lo]));
  }
  return kept;
}

function sensorChart(series: SensorSeries): string {
  const frame: Frame = { width: 460, height: 220, left: 62, right: 12, top: 12, bottom: 26 };
  const points = series.points.map((p: SensorPoint) => ({ ms: Date.parse(p.t), value: p.value, p }));
  const x = scale(...timeExtent(points.map((p) => p.ms)), frame.left, frame.width - frame.right);
  // The view follows the readings, not the declared range (−40…85 °C would flatten a 15–25 °C day);
  // the band is clipped to the view and still shows where the range's edges are.
  const y = scale(...extent(points.map((p) => p.value)), frame.height - frame.bottom, frame.top);
  const [lo, hi] = y.domain;
  const bandLo = Math.max(lo, Math.min(hi, series.range.min));
  const bandHi = Math.max(lo, Math.min(hi, series.range.max));
  const band =
    bandHi > bandLo
      ? `<rect class="band" x="${frame.left}" y="${round(y(bandHi))}" width="${frame.width - frame.left - frame.right}" height="${round(y(bandLo) - y(bandHi))}"/>`
      : '';
  const path = line(decimate(points).map((p) => [x(p.ms), y(p.value)]));
  const anomalies = points
    .filter((p) => p.p.anomaly)
    .map((p) => `<circle class="anomaly" cx="${round(x(p.ms))}" cy="${round(y(p.value))}" r="3"/>`)
    .join('');
  const count = points.filter((p) => p.p.anomaly).length;
  const body =
    band +
    axes(frame, x, y, withUnit(series.unit)) +
    (path ? `<path class="series" d="${path}"/>` : '') +
    (points.length === 0 ? noData(frame) : '') +
    anomalies;
  const label = `${series.type} readings of ${series.sensorId} over the day (${series.unit}), ${points.length} points, declared range ${series.range.min} to ${series.range.max}, ${count} anomalies`;
  return figure(
    `${series.type} · ${series.sensorId}`,
    `${points.length} readings · range ${series.range.min}–${series.range.max}${suffix(series.unit)} · ${count} anomal${count === 1 ? 'y' : 'ies'}`,
    svg(`sensor-${series.type}`, label, frame, body),
  );
}

function hourlyChart(type: string, rows: HourlyAggregate[]): string {
  const frame: Frame = { width: 460, height: 250, left: 62, right: 12, top: 12, bottom: 86 };
  const strip = { top: 190, height: 36 };
  const unit = rows[0]?.unit ?? '';
  const sorted = rows
    .map((r) => ({ ...r, ms: Date.parse(`${r.dt}T00:00:00Z`) + r.hour * HOUR }))
    .sort((a, b) => a.ms - b.ms);
  // Half an hour either side, so the first and last hour's bars stay inside the frame.
  const [t0, t1] = timeExtent(sorted.map((r) => r.ms));
  const x = scale(t0 - HOUR / 2, t1 + HOUR / 2, frame.left, frame.width - frame.right);
  const y = scale(...extent(sorted.flatMap((r) => [r.min, r.max])), frame.height - frame.bottom, frame.top);
  const band = [
    ...sorted.map((r): [number, number] => [x(r.ms), y(r.max)]),
    ...sorted.toReversed().map((r): [number, number] => [x(r.ms), y(r.min)]),
  ];
  const maxCount = Math.max(1, ...sorted.map((r) => r.count));
  const barWidth = Math.max(1, ((frame.width - frame.left - frame.right) / Math.max(1, sorted.length)) * 0.7);
  const bar = (r: (typeof sorted)[number], value: number, cls: string) => {
    const h = (value / maxCount) * strip.height;
    return `<rect class="${cls}" x="${round(x(r.ms) - barWidth / 2)}" y="${round(strip.top + strip.height - h)}" width="${round(barWidth)}" height="${round(h)}"/>`;
  };
  const anomalies = sorted.reduce((n, r) => n + r.anomalies, 0);
  const body = [
    sorted.length > 0 ? `<path class="minmax" d="${line(band)}Z"/>` : noData(frame),
    axes(frame, x, y, withUnit(unit), 4),
    `<path class="mean" d="${line(sorted.map((r) => [x(r.ms), y(r.mean)]))}"/>`,
    `<path class="p95" d="${line(sorted.map((r) => (r.p95 === null ? null : [x(r.ms), y(r.p95)])))}"/>`,
    `<text class="strip-label" x="${frame.left - 4}" y="${strip.top + 10}" text-anchor="end">count</text>`,
    `<text class="strip-label" x="${frame.left - 4}" y="${strip.top + 24}" text-anchor="end">max ${integer.format(maxCount)}</text>`,
    ...sorted.map((r) => bar(r, r.count, 'count')),
    ...sorted.filter((r) => r.anomalies > 0).map((r) => bar(r, r.anomalies, 'anomaly-count')),
  ].join('');
  const label = `${type} hourly aggregates (${unit}): mean, min–max band and p95 for ${sorted.length} hours, with readings and anomalies per hour (${anomalies} anomalies)`;
  return figure(
    `${type} per hour`,
    `mean (line), min–max (band), p95 (dashed) · bars: readings per hour, anomalies in red (${integer.format(anomalies)} in all)`,
    svg(`hourly-${type}`, label, frame, body),
  );
}

function coinChart(coins: CoinPriceSeries[]): string {
  const legendWidth = 210;
  const frame: Frame = { width: 940, height: 320, left: 52, right: 12 + legendWidth, top: 12, bottom: 26 };
  const series = coins.map((coin) => {
    const pts = coin.points.map((p) => ({ ms: Date.parse(p.t), price: p.price })).sort((a, b) => a.ms - b.ms);
    const base = pts[0]?.price ?? 1;
    return { coin, pts: pts.map((p) => ({ ms: p.ms, index: (p.price / base) * 100 })) };
  });
  const all = series.flatMap((s) => s.pts);
  const x = scale(...timeExtent(all.map((p) => p.ms)), frame.left, frame.width - frame.right);
  const y = scale(...extent([100, ...all.map((p) => p.index)]), frame.height - frame.bottom, frame.top);
  const legendX = frame.width - legendWidth + 8;
  const lines = series.map(({ coin, pts }, i) => {
    const color = PALETTE[i % PALETTE.length];
    const last = pts.at(-1)?.index;
    const name = cut(coin.name, 18);
    return (
      `<path class="coin" stroke="${color}" d="${line(pts.map((p) => [x(p.ms), y(p.index)]))}"><title>${esc(coin.symbol)} — ${esc(coin.name)}</title></path>` +
      `<g class="legend-item" transform="translate(${legendX},${frame.top + 8 + i * 20})">` +
      `<rect width="12" height="12" y="-6" fill="${color}"/>` +
      `<text x="18" dominant-baseline="middle"><tspan class="symbol">${esc(coin.symbol)}</tspan> ${esc(name)}${last === undefined ? '' : ` · ${last.toFixed(1)}`}</text></g>`
    );
  });
  const body =
    axes(frame, x, y, (v) => String(v)) +
    `<line class="baseline" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${round(y(100))}" y2="${round(y(100))}"/>` +
    (all.length === 0 ? noData(frame) : '') +
    lines.join('');
  const label = `Price of the top ${coins.length} coins over ${new Set(all.map((p) => p.ms)).size} snapshots, indexed to 100 at the first snapshot: ${coins.map((c) => c.symbol).join(', ')}`;
  return figure(
    'Coin prices',
    'indexed: each coin’s first snapshot = 100 (USD prices), last value in the legend',
    svg('coin-prices', label, frame, body),
  );
}

function sharesChart(shares: { symbol: string; share: number }[]): string {
  const frame: Frame = { width: 940, height: 120, left: 12, right: 12, top: 12, bottom: 12 };
  const barHeight = 36;
  const width = frame.width - frame.left - frame.right;
  const total = shares.reduce((sum, s) => sum + s.share, 0) || 1;
  let at = frame.left;
  const segments: string[] = [];
  const legend: string[] = [];
  shares.forEach((s, i) => {
    const w = (s.share / total) * width;
    const color = s.symbol === 'Other' ? '#c7c7c7' : PALETTE[i % PALETTE.length];
    const percent = `${((s.share / total) * 100).toFixed(1)}%`;
    segments.push(
      `<path class="share" fill="${color}" d="M${round(at)},${frame.top}h${round(w)}v${barHeight}h${round(-w)}Z"><title>${esc(s.symbol)} ${percent}</title></path>`,
    );
    if (w > 44) {
      segments.push(
        `<text class="on-bar" x="${round(at + w / 2)}" y="${frame.top + barHeight / 2}" text-anchor="middle" dominant-baseline="middle">${esc(s.symbol)}</text>`,
      );
    }
    const column = i % 6;
    const row = Math.floor(i / 6);
    legend.push(
      `<g class="legend-item" transform="translate(${frame.left + column * 150},${frame.top + barHeight + 20 + row * 20})">` +
        `<rect width="12" height="12" y="-6" fill="${color}"/><text x="18" dominant-baseline="middle">${esc(s.symbol)} ${percent}</text></g>`,
    );
    at += w;
  });
  const label = `Market-cap share of ${shares.length} entries: ${shares.map((s) => `${s.symbol} ${((s.share / total) * 100).toFixed(1)}%`).join(', ')}`;
  return figure(
    'Market-cap shares',
    'latest snapshot, the top coins and Other',
    svg(
      'market-cap-shares',
      label,
      frame,
      (shares.length === 0 ? noData(frame) : '') + segments.join('') + legend.join(''),
    ),
  );
}

function barChart(
  chart: string,
  label: string,
  items: { label: string; value: number; color: string; text: string }[],
): string {
  const rowHeight = 22;
  const frame: Frame = {
    width: 460,
    height: 24 + Math.max(1, items.length) * rowHeight,
    left: 190,
    right: 80,
    top: 12,
    bottom: 12,
  };
  const max = Math.max(0, ...items.map((i) => i.value));
  const x = scale(0, max || 1, frame.left, frame.width - frame.right);
  const rows = items.map((item, i) => {
    const y = frame.top + i * rowHeight;
    // A zero still gets a hairline, so every row shows where its bar would be.
    const w = Math.max(1, x(item.value) - frame.left);
    return (
      `<text x="${frame.left - 6}" y="${y + rowHeight / 2}" text-anchor="end" dominant-baseline="middle">${esc(cut(item.label, 30))}<title>${esc(item.label)}</title></text>` +
      `<path class="bar" fill="${item.color}" d="M${frame.left},${y + 3}h${round(w)}v${rowHeight - 6}h${round(-w)}Z"/>` +
      `<text x="${round(frame.left + w + 4)}" y="${y + rowHeight / 2}" dominant-baseline="middle">${esc(item.text)}</text>`
    );
  });
  return svg(chart, label, frame, (items.length === 0 ? noData(frame) : '') + rows.join(''));
}

const PIPELINE_COLORS: Record<StageFigure['pipeline'], string> = {
  crypto: PALETTE[1],
  sensors: PALETTE[0],
  queries: PALETTE[2],
};
const ZONES = ['raw', 'processed', 'curated', 'warehouse'];

function zoneRank(zone: string): number {
  return ZONES.includes(zone) ? ZONES.indexOf(zone) : ZONES.length;
}

/** Zones in pipeline order, then tables by name: the order of the tables section and the snapshot figure. */
function byZone(a: { zone: string; table: string }, b: { zone: string; table: string }): number {
  return zoneRank(a.zone) - zoneRank(b.zone) || a.table.localeCompare(b.table);
}

/** `processed/sensors`: how the snapshot figure names a table. */
function tableName(t: { zone: string; table: string }): string {
  return `${t.zone}/${t.table}`;
}

function stagesSection(stages: StageFigure[]): string {
  const chart = barChart(
    'pipeline-stages',
    `Seconds per pipeline stage: ${stages.map((s) => `${s.pipeline}/${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}`,
    stages.map((s) => ({
      label: `${s.pipeline} · ${s.name}`,
      value: s.seconds,
      color: PIPELINE_COLORS[s.pipeline] ?? PALETTE[9],
      text: `${s.seconds.toFixed(1)} s`,
    })),
  );
  const rows = stages.map(
    (s) =>
      `<tr><td>${esc(s.pipeline)}</td><td>${esc(s.name)}</td><td>${integer.format(s.records)}</td><td>${esc(bytes(s.bytes))}</td>` +
      `<td>${s.seconds.toFixed(1)}</td><td>${s.seconds > 0 ? integer.format(s.records / s.seconds) : '–'}</td><td>${integer.format(s.retries)}</td></tr>`,
  );
  return figure(
    'Stages',
    'time per stage, coloured by pipeline (crypto, sensors, queries)',
    chart +
      table(
        ['pipeline', 'stage', 'records', 'bytes', 'seconds', 'records/s', 'retries'],
        rows,
        'pipeline-stages',
      ),
  );
}

function tablesSection(tables: TableFigure[]): string {
  const sorted = tables.toSorted(byZone);
  const chart = barChart(
    'pipeline-tables',
    `Rows per table and zone: ${sorted.map((t) => `${t.zone}/${t.table} ${t.rows}`).join(', ')}`,
    sorted.map((t) => ({
      label: `${t.zone} · ${t.table}`,
      value: t.rows,
      color: PALETTE[zoneRank(t.zone) % PALETTE.length] ?? PALETTE[9],
      text: integer.format(t.rows),
    })),
  );
  const rows: string[] = [];
  for (const zone of [...new Set(sorted.map((t) => t.zone))]) {
    const inZone = sorted.filter((t) => t.zone === zone);
    for (const t of inZone) {
      rows.push(
        `<tr><td>${esc(t.zone)}</td><td>${esc(t.table)}</td><td>${integer.format(t.rows)}</td><td>${integer.format(t.files)}</td><td>${esc(bytes(t.bytes))}</td>` +
          `<td>${esc(t.format ?? '')}</td><td>${esc(t.snapshotId ?? '')}</td><td>${t.snapshots === undefined ? '' : integer.format(t.snapshots)}</td></tr>`,
      );
    }
    const sum = (key: 'rows' | 'files' | 'bytes') => inZone.reduce((n, t) => n + t[key], 0);
    // Snapshots are per table: a zone's sum of them would mean nothing, so its total leaves them empty.
    rows.push(
      `<tr class="total"><td>${esc(zone)}</td><td>all</td><td>${integer.format(sum('rows'))}</td><td>${integer.format(sum('files'))}</td><td>${esc(bytes(sum('bytes')))}</td><td></td><td></td><td></td></tr>`,
    );
  }
  return figure(
    'Tables',
    'rows per table; files and bytes per zone in the table; an Iceberg table’s current snapshot and how many its metadata holds',
    chart +
      table(
        ['zone', 'table', 'rows', 'files', 'bytes', 'format', 'snapshot id', 'snapshots'],
        rows,
        'pipeline-tables',
      ),
  );
}

/**
 * Grouped bars: one group per run (oldest left), one bar per Iceberg table, as high as the
 * snapshots its metadata held after that run. Bars rather than lines, because the tables usually
 * gain the same number of snapshots per run and their lines would hide one another. Absent ('')
 * without a history or without any table in it: a hive run has no snapshots to show.
 */
function snapshotSection(history: SnapshotHistoryRun[]): string {
  const byName = new Map<string, { zone: string; table: string }>();
  for (const run of history) for (const t of run.tables) byName.set(tableName(t), t);
  if (byName.size === 0) return '';
  // Every table any run had; one a run lacks (created later, or dropped) is a gap, not a zero.
  const tables = [...byName.values()].sort(byZone).map(tableName);
  const runs = history.map((run, i) => ({
    number: i + 1,
    at: new Date(Date.parse(run.at)).toISOString(),
    tables: new Map(run.tables.map((t) => [tableName(t), t])),
  }));
  const legendRows = Math.ceil(tables.length / 2);
  const frame: Frame = {
    width: 460,
    height: 212 + legendRows * 18,
    left: 40,
    right: 12,
    top: 12,
    bottom: 50 + legendRows * 18,
  };
  const plotWidth = frame.width - frame.left - frame.right;
  const baseline = frame.height - frame.bottom;
  const x = scale(0.5, runs.length + 0.5, frame.left, frame.width - frame.right);
  const max = Math.max(1, ...history.flatMap((run) => run.tables.map((t) => t.snapshots)));
  // Headroom above the tallest bar; at least one unit per tick, so the axis never reads 0.5 snapshots.
  const y = scale(0, max * 1.1, baseline, frame.top);
  const yTarget = Math.max(1, Math.min(5, Math.floor(max * 1.1)));
  // Few runs would make slabs of the bars: at most 36 px each.
  const barWidth = Math.min(36, ((plotWidth / runs.length) * 0.8) / tables.length);
  const groupWidth = barWidth * tables.length;
  const sameDay = new Set(runs.map((r) => r.at.slice(0, 10))).size === 1;
  const stamp = (iso: string, seconds: boolean) =>
    `${sameDay ? '' : `${iso.slice(5, 10)} `}${iso.slice(11, seconds ? 19 : 16)}`;
  // Two runs in the same minute would share a label: then every label shows seconds.
  const seconds = new Set(runs.map((r) => stamp(r.at, false))).size < runs.length;
  const every = Math.ceil(runs.length / Math.max(1, Math.floor(plotWidth / 64)));
  const labelled = runs.filter((r) => (r.number - 1) % every === 0);
  const color = (k: number) => PALETTE[k % PALETTE.length];
  const bars = runs.flatMap((run) =>
    tables.flatMap((name, k) => {
      const t = run.tables.get(name);
      if (t === undefined) return [];
      const left = x(run.number) - groupWidth / 2 + k * barWidth;
      // A zero still gets a hairline, so a table with no snapshot yet shows where its bar would be.
      const h = Math.max(1, baseline - y(t.snapshots));
      const current = t.snapshotId === '' ? '' : `, current ${t.snapshotId}`;
      return [
        `<path class="snapshot-bar" fill="${color(k)}" d="M${round(left)},${round(baseline - h)}h${round(barWidth)}v${round(h)}h${round(-barWidth)}Z">` +
          `<title>${esc(name)} · run ${run.number} (${run.at}): ${integer.format(t.snapshots)} snapshots${esc(current)}</title></path>`,
      ];
    }),
  );
  const runLabels = labelled.map(
    (r) =>
      `<text class="run-label" x="${round(x(r.number))}" y="${baseline + 28}" text-anchor="middle">#${r.number}</text>`,
  );
  const legend = tables.map(
    (name, k) =>
      `<g class="legend-item" transform="translate(${frame.left + (k % 2) * (plotWidth / 2)},${baseline + 48 + Math.floor(k / 2) * 18})">` +
      `<rect width="12" height="12" y="-6" fill="${color(k)}"/><text x="18" dominant-baseline="middle">${esc(cut(name, 32))}</text></g>`,
  );
  const body =
    axes(frame, x, y, (v) => integer.format(v), yTarget, {
      ticks: labelled.map((r) => r.number),
      label: (n) => stamp(runs[n - 1]?.at ?? '', seconds),
    }) +
    bars.join('') +
    runLabels.join('') +
    legend.join('');
  const figures = tables.map(
    (name) => `${name} ${runs.map((r) => r.tables.get(name)?.snapshots ?? '–').join(', ')}`,
  );
  const label = `Snapshots per Iceberg table over ${runs.length} run${runs.length === 1 ? '' : 's'}, oldest first: ${figures.join('; ')}`;
  const rows = runs.map(
    (r) =>
      `<tr><td>${r.number}</td><td>${esc(r.at)}</td>${tables
        .map((name) => {
          const snapshots = r.tables.get(name)?.snapshots;
          return `<td>${snapshots === undefined ? '–' : integer.format(snapshots)}</td>`;
        })
        .join('')}</tr>`,
  );
  return figure(
    'Snapshots per table over the runs',
    'snapshots in each Iceberg table’s metadata after each demo run in this output folder; x: run and its end time (UTC)',
    svg('snapshot-history', label, frame, body) +
      table(['run', 'ended (UTC)', ...tables], rows, 'snapshot-history'),
  );
}

// --- page -------------------------------------------------------------------------------------

function noData(frame: Frame): string {
  return `<text class="no-data" x="${frame.width / 2}" y="${frame.height / 2}" text-anchor="middle">no data</text>`;
}

function figure(title: string, caption: string, content: string): string {
  return `<figure><figcaption><strong>${esc(title)}</strong> <span>${esc(caption)}</span></figcaption>${content}</figure>`;
}

function table(head: string[], rows: string[], name: string): string {
  return (
    `<table data-table="${esc(name)}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

const CSS = `
:root{color-scheme:light;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}
body{margin:0;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:#fff}
header{margin-bottom:8px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
dl{display:flex;flex-wrap:wrap;gap:4px 18px;margin:8px 0;color:var(--muted)}dt{font-weight:600}dd{margin:0 0 0 4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:16px}.grid.wide{grid-template-columns:1fr}
figure{margin:0;padding:10px;border:1px solid var(--line);border-radius:6px;overflow-x:auto}
figcaption{margin-bottom:6px}figcaption span{color:var(--muted);font-size:12px}
svg{display:block;width:100%;height:auto;font-size:11px;fill:var(--ink)}
.axis line,.frame{stroke:#8c959f;fill:none}.axis line.grid{stroke:#eaeef2}.axis text{fill:var(--muted);font-size:10px}
.band{fill:#2da44e;fill-opacity:.09}.series{fill:none;stroke:#4e79a7;stroke-width:1}
.anomaly{fill:${ANOMALY};stroke:#fff;stroke-width:.5}
.minmax{fill:#4e79a7;fill-opacity:.18;stroke:none}.mean{fill:none;stroke:#4e79a7;stroke-width:1.6}
.p95{fill:none;stroke:#f28e2b;stroke-width:1.2;stroke-dasharray:4 3}
.count{fill:#9fb4cc}.anomaly-count{fill:${ANOMALY}}.strip-label{fill:var(--muted);font-size:9px}
.coin{fill:none;stroke-width:1.6}.baseline{stroke:#8c959f;stroke-dasharray:2 3}.legend-item .symbol{font-weight:600}
.share{stroke:#fff;stroke-width:1}.on-bar{fill:#fff;font-weight:600}.no-data{fill:var(--muted);font-size:13px}
.run-label{fill:var(--muted);font-size:10px}
table{border-collapse:collapse;margin-top:10px;font-size:12px;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;white-space:nowrap;border-bottom:1px solid #eaeef2;text-align:right}th:nth-child(-n+2),td:nth-child(-n+2){text-align:left}
tr.total td{font-weight:600;border-bottom-color:var(--line)}
`;

/**
 * Renders the demo's report: one self-contained HTML page (inline CSS and SVG, no script, no
 * external resource) with the sensor readings of the day per type, the hourly aggregates, the
 * coin prices and market-cap shares, and the pipeline's own figures (with each Iceberg table's
 * snapshot id and count, and their snapshots over the runs when `pipeline.snapshotHistory` has
 * any). Every text value is escaped; each chart is an `<svg role="img" data-chart="…">` with an
 * `aria-label`.
 *
 * @throws {ReportError} `REPORT_DATA_INVALID` when a number is not finite, a time does not parse,
 * a price is not positive, a snapshot count is not an integer >= 0 or a snapshot id not decimal
 * (`context.field` names it).
 * @example
 * ```ts
 * const html = renderReport(data);
 * await writeFile(join(out, 'report.html'), html);
 * ```
 */
export function renderReport(data: ReportData): string {
  validate(data);
  const types = [...new Set(data.sensors.hourly.map((r) => r.type))];
  const run = data.run;
  const facts: [string, string][] = [
    ['mode', run.mode],
    ['engine', run.engine],
    ['seed', String(run.seed)],
    ['records', integer.format(run.records)],
    ['sensors per type', integer.format(run.sensorsPerType)],
    ['took', `${run.seconds.toFixed(1)} s`],
    ['output', run.out],
    ['generated', data.generatedAt],
  ];
  const section = (title: string, body: string) => `<section><h2>${esc(title)}</h2>${body}</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(data.title)}</h1><dl>${facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl></header>
${section('Sensors over the day', `<div class="grid">${data.sensors.series.map(sensorChart).join('')}</div>`)}
${section(
  'Hourly aggregates',
  `<div class="grid">${types
    .map((t) =>
      hourlyChart(
        t,
        data.sensors.hourly.filter((r) => r.type === t),
      ),
    )
    .join('')}</div>`,
)}
${section('Coins', `<div class="grid wide">${coinChart(data.coins.prices)}${sharesChart(data.coins.marketCapShares)}</div>`)}
${section('Pipeline', `<div class="grid">${stagesSection(data.pipeline.stages)}${tablesSection(data.pipeline.tables)}${snapshotSection(data.pipeline.snapshotHistory ?? [])}</div>`)}
</body>
</html>
`;
}

/**
 * Renders the report and writes it to `path` atomically (a temporary file renamed into place), so
 * a reader never sees half a page.
 *
 * @throws {ReportError} `REPORT_WRITE_FAILED` with `context.path` when the file cannot be written.
 * @example
 * ```ts
 * await writeReport(join(options.out, 'report.html'), data);
 * ```
 */
export async function writeReport(path: string, data: ReportData): Promise<void> {
  const html = renderReport(data);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, html, 'utf8');
    await rename(temporary, path);
  } catch (cause) {
    // Best effort: the write error is the one to report, not a failed cleanup after it.
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new ReportError(`could not write the report to ${path}`, {
      code: 'REPORT_WRITE_FAILED',
      cause,
      context: { path },
    });
  }
}
