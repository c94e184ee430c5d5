import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReportError, renderReport, writeReport } from '../../src/report.js';
import type { ReportData } from '../../src/report-data.js';
import { reportData } from '../fixtures/report-data.js';

/** `data-chart` name → the svg's opening tag and its content. */
function charts(html: string): Map<string, { tag: string; body: string }> {
  const found = new Map<string, { tag: string; body: string }>();
  for (const match of html.matchAll(/(<svg data-chart="([^"]*)"[^>]*>)([\s\S]*?)<\/svg>/g)) {
    found.set(match[2] ?? '', { tag: match[1] ?? '', body: match[3] ?? '' });
  }
  return found;
}

function chart(html: string, name: string): string {
  const found = charts(html).get(name);
  if (found === undefined) throw new Error(`no chart ${name} in the report`);
  return found.body;
}

/** The `d` of every `<path class="cls">`. */
function paths(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<path class="${cls}"[^>]* d="([^"]*)"`, 'g'))].map((m) => m[1] ?? '');
}

/** The vertices of a path made of M/L commands. */
function vertices(d: string): { x: number; y: number }[] {
  return [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

function count(svg: string, pattern: RegExp): number {
  return [...svg.matchAll(pattern)].length;
}

/**
 * Every tag and attribute name in the page. Values are all double-quoted, so a tag is read whole
 * even when an escaped value holds `&lt;img src=…`; whatever is left afterwards must hold no `<`.
 */
function markup(html: string): { tags: Set<string>; attributes: Set<string>; rest: string } {
  const tags = new Set<string>();
  const attributes = new Set<string>();
  const tag = /<\/?([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*\/?>/g;
  const rest = html.replace(/^<!doctype html>/, '').replace(tag, (_, name: string, attrs: string) => {
    tags.add(name.toLowerCase());
    for (const m of attrs.matchAll(/([\w:-]+)(?:="[^"]*")?/g)) attributes.add((m[1] ?? '').toLowerCase());
    return '';
  });
  return { tags, attributes, rest };
}

const attribute = (tag: string, name: string) => Number(new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1]);

function setHistory(
  d: ReportData,
  run: number,
  table: number,
  values: Partial<{ snapshots: number; snapshotId: string }>,
): void {
  const entry = d.pipeline.snapshotHistory?.[run]?.tables[table];
  if (entry === undefined) throw new Error(`fixture has no snapshotHistory[${run}].tables[${table}]`);
  Object.assign(entry, values);
}

describe('renderReport', () => {
  const data = reportData();
  const html = renderReport(data);

  describe('charts', () => {
    it('draws every chart once, each an accessible svg', () => {
      const found = charts(html);

      expect([...found.keys()].sort()).toEqual(
        [
          'coin-prices',
          'hourly-hydraulic_pressure',
          'hourly-power_factor',
          'hourly-temperature',
          'market-cap-shares',
          'pipeline-stages',
          'pipeline-tables',
          'sensor-hydraulic_pressure',
          'sensor-power_factor',
          'sensor-temperature',
          'snapshot-history',
        ].sort(),
      );
      expect(count(html, /<svg\b/g)).toBe(found.size);
      for (const { tag } of found.values()) {
        expect(tag).toContain('role="img"');
        expect(tag).toMatch(/aria-label="[^"]{20,}"/);
      }
    });

    it('draws each sensor reading, the range band and one red dot per anomaly outside it', () => {
      for (const series of data.sensors.series) {
        const svg = chart(html, `sensor-${series.type}`);
        const [line, ...others] = paths(svg, 'series');
        const band = /<rect class="band"[^>]*>/.exec(svg)?.[0] ?? '';
        const dots = [...svg.matchAll(/<circle class="anomaly" cx="([\d.]+)" cy="([\d.]+)"/g)];
        const top = attribute(band, 'y');
        const bottom = top + attribute(band, 'height');

        expect(others).toEqual([]);
        expect(vertices(line ?? '')).toHaveLength(series.points.length);
        expect(dots).toHaveLength(series.points.filter((p) => p.anomaly).length);
        expect(band).not.toBe('');
        for (const dot of dots) {
          const cy = Number(dot[2]);
          expect(
            cy < top || cy > bottom,
            `${series.type} anomaly at y=${cy} inside the band ${top}–${bottom}`,
          ).toBe(true);
        }
      }
      // The fixture does plant anomalies: the loop above checked dots, not an empty list.
      expect(count(html, /<circle class="anomaly"/g)).toBe(9);
    });

    it('labels the time axis in UTC hours and the value axis with the unit', () => {
      const temperature = chart(html, 'sensor-temperature');
      const pressure = chart(html, 'sensor-hydraulic_pressure');

      for (const hour of ['00:00', '06:00', '12:00', '18:00'])
        expect(temperature).toContain(`>${hour}</text>`);
      expect(temperature).toMatch(/>-?\d+ °C<\/text>/);
      expect(pressure).toMatch(/>\d+ bar<\/text>/);
      // A power factor is dimensionless: plain numbers, no "1" suffix.
      expect(chart(html, 'sensor-power_factor')).toMatch(/>0\.\d<\/text>/);
    });

    it('draws per type the hourly mean, the min–max band, p95 and a count bar per hour', () => {
      for (const type of ['temperature', 'power_factor', 'hydraulic_pressure']) {
        const rows = data.sensors.hourly.filter((r) => r.type === type);
        const svg = chart(html, `hourly-${type}`);

        expect(rows).toHaveLength(24);
        expect(vertices(paths(svg, 'mean')[0] ?? '')).toHaveLength(24);
        expect(vertices(paths(svg, 'p95')[0] ?? '')).toHaveLength(24);
        expect(vertices(paths(svg, 'minmax')[0] ?? '')).toHaveLength(48);
        expect(count(svg, /<rect class="count"/g)).toBe(24);
        expect(count(svg, /<rect class="anomaly-count"/g)).toBe(rows.filter((r) => r.anomalies > 0).length);
      }
    });

    it('breaks the p95 line where an hour has no p95', () => {
      const gappy = reportData();
      const row = gappy.sensors.hourly.find((r) => r.type === 'temperature' && r.hour === 10);
      if (row) row.p95 = null;

      const d = paths(chart(renderReport(gappy), 'hourly-temperature'), 'p95')[0] ?? '';

      expect(count(d, /M/g)).toBe(2);
      expect(vertices(d)).toHaveLength(23);
    });

    it('draws one line per coin, all starting at the index 100 baseline, with a legend entry each', () => {
      const svg = chart(html, 'coin-prices');
      const lines = paths(svg, 'coin');
      const baseline = attribute(/<line class="baseline"[^>]*>/.exec(svg)?.[0] ?? '', 'y1');

      expect(lines).toHaveLength(10);
      for (const d of lines) {
        const points = vertices(d);
        expect(points).toHaveLength(24);
        expect(points[0]?.y).toBeCloseTo(baseline, 0);
      }
      // Not all flat on the baseline: the prices did move.
      expect(new Set(lines.flatMap((d) => vertices(d).map((p) => p.y))).size).toBeGreaterThan(100);
      expect(count(svg, /<g class="legend-item"/g)).toBe(10);
      for (const coin of data.coins.prices)
        expect(svg).toContain(`<tspan class="symbol">${coin.symbol}</tspan>`);
    });

    it('splits the market-cap bar into one segment per share, sized by the share', () => {
      const svg = chart(html, 'market-cap-shares');
      const widths = paths(svg, 'share').map((d) => Number(/h([\d.]+)/.exec(d)?.[1]));

      expect(widths).toHaveLength(data.coins.marketCapShares.length);
      expect(widths.reduce((a, b) => a + b, 0)).toBeCloseTo(916, 0);
      expect((widths[0] ?? 0) / 916).toBeCloseTo(data.coins.marketCapShares[0]?.share ?? 0, 2);
      expect(svg).toContain('BTC 57.1%');
      expect(svg).toContain('Other 12.4%');
    });

    it('shows one bar per stage and per table, and per-zone totals of rows, files and bytes', () => {
      const tables = /<table data-table="pipeline-tables">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';

      expect(paths(chart(html, 'pipeline-stages'), 'bar')).toHaveLength(data.pipeline.stages.length);
      expect(paths(chart(html, 'pipeline-tables'), 'bar')).toHaveLength(data.pipeline.tables.length);
      expect(count(tables, /<tr class="total">/g)).toBe(4);
      // raw: 172,800 + 24,000 rows, 24 + 25 files, 31,104,000 + 3,410,020 bytes.
      expect(tables).toContain(
        '<tr class="total"><td>raw</td><td>all</td><td>196,800</td><td>49</td><td>32.9 MiB</td><td></td><td></td><td></td></tr>',
      );
    });

    it("shows each Iceberg table's format, current snapshot id and snapshot count in the tables section", () => {
      const tables = /<table data-table="pipeline-tables">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
      const head = [...(/<thead>([\s\S]*?)<\/thead>/.exec(tables)?.[1] ?? '').matchAll(/<th>([^<]*)<\/th>/g)];

      expect(head.map((m) => m[1])).toEqual([
        'zone',
        'table',
        'rows',
        'files',
        'bytes',
        'format',
        'snapshot id',
        'snapshots',
      ]);
      expect(tables).toContain(
        '<tr><td>processed</td><td>sensors</td><td>172,800</td><td>24</td><td>5.6 MiB</td><td>iceberg</td><td>8333017788700497002</td><td>3</td></tr>',
      );
      expect(tables).toContain(
        '<tr><td>processed</td><td>coin_quotes</td><td>24,000</td><td>1</td><td>1.1 MiB</td><td>iceberg</td><td>2496302553114815624</td><td>9</td></tr>',
      );
      // A hive table says so and has no snapshot; a table with no format (the warehouse's) leaves it empty.
      expect(tables).toContain(
        '<tr><td>raw</td><td>sensors</td><td>172,800</td><td>24</td><td>29.7 MiB</td><td>hive</td><td></td><td></td></tr>',
      );
      expect(tables).toContain(
        '<tr><td>warehouse</td><td>coin_quotes</td><td>24,000</td><td>0</td><td>0 B</td><td></td><td></td><td></td></tr>',
      );
      expect(count(tables, /<td>iceberg<\/td>/g)).toBe(4);
    });

    it('shows an Iceberg table without a snapshot yet (an empty table) with 0 and no id', () => {
      const d = reportData();
      const empty = d.pipeline.tables.find((t) => t.zone === 'curated' && t.table === 'coin_daily');
      if (empty) {
        empty.snapshots = 0;
        delete empty.snapshotId;
      }

      const out = renderReport(d);

      expect(out).toContain(
        '<tr><td>curated</td><td>coin_daily</td><td>240</td><td>1</td><td>30.5 KiB</td><td>iceberg</td><td></td><td>0</td></tr>',
      );
    });
  });

  describe('snapshot history', () => {
    /** Each bar of the snapshot chart: its geometry (from `M x,y h w v h …`) and its tooltip. */
    function bars(
      svg: string,
    ): { x: number; y: number; w: number; h: number; fill: string; title: string }[] {
      const bar =
        /<path class="snapshot-bar" fill="([^"]*)" d="M([\d.]+),([\d.]+)h([\d.]+)v([\d.]+)[^"]*"><title>([^<]*)<\/title>/g;
      return [...svg.matchAll(bar)].map((m) => ({
        fill: m[1] ?? '',
        x: Number(m[2]),
        y: Number(m[3]),
        w: Number(m[4]),
        h: Number(m[5]),
        title: m[6] ?? '',
      }));
    }

    function historyTable(out: string): string[][] {
      const body = /<table data-table="snapshot-history">([\s\S]*?)<\/table>/.exec(out)?.[1] ?? '';
      return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
        [...(row[1] ?? '').matchAll(/<t[hd]>([^<]*)<\/t[hd]>/g)].map((cell) => cell[1] ?? ''),
      );
    }

    const TABLES = [
      'processed/coin_quotes',
      'processed/sensors',
      'curated/coin_daily',
      'curated/sensor_hourly',
    ];
    const COUNTS: Record<string, number[]> = {
      'processed/coin_quotes': [3, 6, 9],
      'processed/sensors': [1, 2, 3],
      'curated/coin_daily': [1, 2, 3],
      'curated/sensor_hourly': [1, 2, 3],
    };

    it('draws one bar per Iceberg table and run, as high as its snapshot count, runs left to right', () => {
      const svg = chart(html, 'snapshot-history');
      const drawn = bars(svg);

      expect(drawn).toHaveLength(12);
      // Grouped by run, the tables in the same order in each group, each table its own colour.
      drawn.forEach((bar, i) => {
        const run = Math.floor(i / 4);
        const name = TABLES[i % 4] ?? '';
        expect(bar.title).toMatch(new RegExp(`^${name} · run ${run + 1} \\(`));
        expect(bar.title).toContain(`: ${COUNTS[name]?.[run]} snapshots`);
        expect(bar.fill).toBe(drawn[i % 4]?.fill);
        if (i > 0) expect(bar.x).toBeGreaterThan(drawn[i - 1]?.x ?? 0);
      });
      expect(new Set(drawn.map((b) => b.fill)).size).toBe(4);
      // Heights proportional to the counts, all bars standing on the same baseline.
      const perSnapshot = (drawn[0]?.h ?? 0) / 3;
      expect(perSnapshot).toBeGreaterThan(5);
      drawn.forEach((bar, i) => {
        const name = TABLES[i % 4] ?? '';
        const snapshots = COUNTS[name]?.[Math.floor(i / 4)] ?? 0;
        expect(bar.h).toBeCloseTo(snapshots * perSnapshot, 0);
        expect(bar.y + bar.h).toBeCloseTo((drawn[0]?.y ?? 0) + (drawn[0]?.h ?? 0), 0);
      });
    });

    it('labels each run with its number and its end time, and names every figure in the aria-label', () => {
      const found = charts(html).get('snapshot-history');
      const svg = found?.body ?? '';

      for (const label of ['18:12', '18:27', '18:42', '#1', '#2', '#3'])
        expect(svg).toContain(`>${label}</text>`);
      for (const name of TABLES) expect(svg).toContain(`>${name}</text>`);
      expect(found?.tag).toContain(
        'aria-label="Snapshots per Iceberg table over 3 runs, oldest first: processed/coin_quotes 3, 6, 9; ' +
          'processed/sensors 1, 2, 3; curated/coin_daily 1, 2, 3; curated/sensor_hourly 1, 2, 3"',
      );
      expect(html).toContain('<strong>Snapshots per table over the runs</strong>');
    });

    it('lists run time × table counts in a table under the chart', () => {
      expect(historyTable(html)).toEqual([
        ['run', 'ended (UTC)', ...TABLES],
        ['1', '2026-11-23T18:12:44.101Z', '3', '1', '1', '1'],
        ['2', '2026-11-23T18:27:31.870Z', '6', '2', '2', '2'],
        ['3', '2026-11-23T18:42:07.512Z', '9', '3', '3', '3'],
      ]);
    });

    it('draws a single run: one bar per table', () => {
      const d = reportData();
      d.pipeline.snapshotHistory = d.pipeline.snapshotHistory?.slice(-1);

      const out = renderReport(d);
      const drawn = bars(chart(out, 'snapshot-history'));

      expect(drawn.map((b) => b.title.split(' · ')[0])).toEqual(TABLES);
      expect(drawn.map((b) => Math.round(b.h / ((drawn[1]?.h ?? 1) / 3)))).toEqual([9, 3, 3, 3]);
      expect(historyTable(out)).toHaveLength(2);
      expect(out).not.toMatch(/NaN|Infinity/);
    });

    it('leaves a gap and a dash for a table a run did not have, and a hairline for zero snapshots', () => {
      const d = reportData();
      const first = d.pipeline.snapshotHistory?.[0];
      if (first) first.tables = first.tables.filter((t) => t.table !== 'sensors');
      const hourly = d.pipeline.snapshotHistory?.[1]?.tables.find((t) => t.table === 'sensor_hourly');
      // An Iceberg table with no snapshot yet has no current snapshot id.
      if (hourly) Object.assign(hourly, { snapshots: 0, snapshotId: '' });

      const out = renderReport(d);
      const drawn = bars(chart(out, 'snapshot-history'));

      expect(drawn).toHaveLength(11);
      expect(drawn.filter((b) => b.title.startsWith('processed/sensors')).map((b) => b.title)).toEqual([
        expect.stringMatching(/ · run 2 /),
        expect.stringMatching(/ · run 3 /),
      ]);
      expect(drawn.find((b) => b.title.startsWith('curated/sensor_hourly · run 2'))).toMatchObject({
        h: 1,
        title: 'curated/sensor_hourly · run 2 (2026-11-23T18:27:31.870Z): 0 snapshots',
      });
      expect(historyTable(out)[1]).toEqual(['1', '2026-11-23T18:12:44.101Z', '3', '–', '1', '1']);
      expect(historyTable(out)[2]).toEqual(['2', '2026-11-23T18:27:31.870Z', '6', '2', '2', '0']);
      expect(charts(out).get('snapshot-history')?.tag).toContain('processed/sensors –, 2, 3;');
    });

    it('is absent, chart and table, without a history (a hive run), with an empty one or one without tables', () => {
      const without = reportData();
      delete without.pipeline.snapshotHistory;
      const empty = reportData();
      empty.pipeline.snapshotHistory = [];
      const noTables = reportData();
      noTables.pipeline.snapshotHistory = [{ at: '2026-11-23T18:42:07.512Z', tables: [] }];

      for (const out of [renderReport(without), renderReport(empty), renderReport(noTables)]) {
        expect(charts(out).has('snapshot-history')).toBe(false);
        expect(out).not.toContain('data-table="snapshot-history"');
        expect(out).not.toContain('Snapshots per table');
        expect(charts(out).size).toBe(10);
      }
    });
  });

  describe('escaping and self-containment', () => {
    const hostile = '<img src=x onerror=alert(1)> & "quoted" \'single\'';

    function hostileData(): ReportData {
      const d = reportData();
      d.title = `</title><script>alert(1)</script>`;
      d.run.out = hostile;
      const coin = d.coins.prices[0];
      if (coin) {
        coin.name = hostile;
        coin.symbol = '<B&>';
      }
      const share = d.coins.marketCapShares[0];
      if (share) share.symbol = '<B&>';
      const series = d.sensors.series[0];
      if (series) {
        series.type = '"><script>alert(2)</script>';
        series.unit = '<°C>';
        series.sensorId = hostile;
      }
      for (const row of d.sensors.hourly) if (row.type === 'temperature') row.type = '"onload="alert(3)';
      const stage = d.pipeline.stages[0];
      if (stage) stage.name = hostile;
      const table = d.pipeline.tables[0];
      if (table) table.table = hostile;
      const iceberg = d.pipeline.snapshotHistory?.[0]?.tables[0];
      if (iceberg) iceberg.table = '<svg onload=alert(4)>';
      return d;
    }

    it('escapes every text value, in content and in attributes', () => {
      const out = renderReport(hostileData());
      const { tags, attributes, rest } = markup(out);
      const allowed = [
        ...['html', 'head', 'meta', 'title', 'style', 'body', 'header', 'h1', 'h2', 'dl', 'div', 'dt', 'dd'],
        ...['section', 'figure', 'figcaption', 'strong', 'span', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
        ...['svg', 'g', 'path', 'rect', 'circle', 'line', 'text', 'tspan'],
      ];

      expect([...tags].filter((t) => !allowed.includes(t))).toEqual([]);
      expect(
        [...attributes].filter((a) => a.startsWith('on') || a.endsWith('src') || a.endsWith('href')),
      ).toEqual([]);
      expect(rest).not.toContain('<');
      expect(out).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot; &#39;single&#39;');
      expect(out).toContain('<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>');
      expect(out).toContain('data-chart="sensor-&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');
      expect(out).toContain('data-chart="hourly-&quot;onload=&quot;alert(3)"');
      expect(out).toContain('<tspan class="symbol">&lt;B&amp;&gt;</tspan>');
      expect(out).toContain('&lt;°C&gt;');
      expect(out).toContain('processed/&lt;svg onload=alert(4)&gt;');
      // The hostile values still reach the page, as text: eleven charts, not one more element.
      expect(charts(out).size).toBe(11);
    });

    it('cuts a long coin name before escaping, never inside an entity', () => {
      const d = reportData();
      const coin = d.coins.prices[1];
      // The 17th character, the last one kept, is the '&'.
      if (coin) coin.name = 'Wrapped Bitcoin &<Staked> Edition';

      const svg = chart(renderReport(d), 'coin-prices');

      expect(svg).toContain('Wrapped Bitcoin &amp;…');
      expect(svg).toContain('<title>ETH — Wrapped Bitcoin &amp;&lt;Staked&gt; Edition</title>');
      expect(svg).not.toMatch(/&[a-z#0-9]*…/);
    });

    it('loads nothing from the network and runs no script', () => {
      for (const out of [html, renderReport(hostileData())]) {
        expect(out).not.toMatch(/https?:\/\//);
        expect(out).not.toMatch(/<script|<link|<img|@import|url\(/i);
        expect([...markup(out).attributes].filter((a) => /src|href/.test(a))).toEqual([]);
        expect(out).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
        expect(out).not.toMatch(/NaN|Infinity|undefined/);
      }
    });
  });

  describe('small and empty inputs', () => {
    it('renders a day without anomalies: no red dots, no red bars', () => {
      const d = reportData();
      for (const series of d.sensors.series) {
        series.points = series.points.filter((p) => !p.anomaly);
      }
      for (const row of d.sensors.hourly) row.anomalies = 0;

      const out = renderReport(d);

      expect(count(out, /<circle class="anomaly"/g)).toBe(0);
      expect(count(out, /<rect class="anomaly-count"/g)).toBe(0);
      expect(vertices(paths(chart(out, 'sensor-temperature'), 'series')[0] ?? '').length).toBe(1_437);
    });

    it('renders a single coin with a single share', () => {
      const d = reportData();
      d.coins.prices = d.coins.prices.slice(0, 1);
      d.coins.marketCapShares = [{ symbol: 'BTC', share: 1 }];

      const out = renderReport(d);

      expect(paths(chart(out, 'coin-prices'), 'coin')).toHaveLength(1);
      expect(paths(chart(out, 'market-cap-shares'), 'share')).toEqual(['M12,12h916v36h-916Z']);
    });

    it('renders with nothing at all to draw, saying so in each chart', () => {
      const d = reportData();
      d.sensors = { series: [], hourly: [] };
      d.coins = { prices: [], marketCapShares: [] };
      d.pipeline = { stages: [], tables: [] };

      const out = renderReport(d);

      expect([...charts(out).keys()].sort()).toEqual([
        'coin-prices',
        'market-cap-shares',
        'pipeline-stages',
        'pipeline-tables',
      ]);
      expect(count(out, /class="no-data"/g)).toBe(4);
      expect(out).not.toMatch(/NaN|Infinity/);
    });

    it('renders a sensor with a single reading and a constant value', () => {
      const d = reportData();
      const series = d.sensors.series[0];
      if (series) series.points = [{ t: '2026-11-23T12:00:00.000Z', value: 20, anomaly: false }];

      const out = renderReport(d);

      expect(vertices(paths(chart(out, 'sensor-temperature'), 'series')[0] ?? '')).toHaveLength(1);
      expect(out).not.toMatch(/NaN|Infinity/);
    });
  });

  describe('large inputs', () => {
    it('decimates a long day to at most 2,000 vertices, keeping the extremes and every anomaly dot', () => {
      const d = reportData();
      const series = d.sensors.series[2];
      if (!series) throw new Error('fixture has three series');
      const start = Date.UTC(2026, 10, 23);
      series.points = Array.from({ length: 86_400 }, (_, i) => ({
        t: new Date(start + i * 1000).toISOString(),
        value: i === 55_555 ? 399 : i === 12_345 ? 2 : 180 + Math.sin(i / 600) * 20,
        anomaly: i === 55_555,
      }));

      const svg = chart(renderReport(d), 'sensor-hydraulic_pressure');
      const points = vertices(paths(svg, 'series')[0] ?? '');
      const ys = points.map((p) => p.y);
      const dot = /<circle class="anomaly" cx="[\d.]+" cy="([\d.]+)"/.exec(svg);

      expect(points.length).toBeLessThanOrEqual(2_000);
      expect(points.length).toBeGreaterThan(1_000);
      expect(count(svg, /<circle class="anomaly"/g)).toBe(1);
      // SVG y grows downwards: the spike to 399 bar (the anomaly) is the topmost vertex, and the
      // one dip to 2 bar is the only vertex far below the 160–200 bar wave.
      expect(Math.min(...ys)).toBe(Number(dot?.[1]));
      expect(ys.filter((y) => y > 150)).toHaveLength(1);
      // Time order kept: x never goes back.
      expect(points.every((p, i) => i === 0 || p.x >= (points[i - 1]?.x ?? 0))).toBe(true);
    });
  });

  describe('invalid data', () => {
    it('refuses a non-finite reading with a typed error naming the field', () => {
      const d = reportData();
      const point = d.sensors.series[1]?.points[3];
      if (point) point.value = Number.NaN;

      expect(() => renderReport(d)).toThrow(
        expect.objectContaining({
          name: 'ReportError',
          code: 'REPORT_DATA_INVALID',
          context: { field: 'sensors.series[1].points[3].value' },
        }),
      );
    });

    it('refuses a price that cannot be indexed and a time that does not parse', () => {
      const zero = reportData();
      const price = zero.coins.prices[4]?.points[0];
      if (price) price.price = 0;
      const badTime = reportData();
      const point = badTime.sensors.series[0]?.points[7];
      if (point) point.t = 'yesterday';

      expect(() => renderReport(zero)).toThrow(ReportError);
      expect(() => renderReport(zero)).toThrow(
        'coins.prices[4].points[0].price must be a positive finite number',
      );
      expect(() => renderReport(badTime)).toThrow('sensors.series[0].points[7].t must be an ISO-8601 time');
    });

    it('refuses a snapshot count that is not a non-negative integer, in the history and in the tables', () => {
      const cases: [string, (d: ReportData) => void][] = [
        ['pipeline.snapshotHistory[1].tables[2].snapshots', (d) => setHistory(d, 1, 2, { snapshots: -1 })],
        ['pipeline.snapshotHistory[2].tables[0].snapshots', (d) => setHistory(d, 2, 0, { snapshots: 2.5 })],
        [
          'pipeline.snapshotHistory[0].tables[3].snapshots',
          (d) => setHistory(d, 0, 3, { snapshots: Number.NaN }),
        ],
        ['pipeline.tables[3].snapshots', (d) => Object.assign(d.pipeline.tables[3] ?? {}, { snapshots: -2 })],
        [
          'pipeline.tables[2].snapshots',
          (d) => Object.assign(d.pipeline.tables[2] ?? {}, { snapshots: Infinity }),
        ],
      ];

      for (const [field, spoil] of cases) {
        const d = reportData();
        spoil(d);

        expect(() => renderReport(d), field).toThrow(
          expect.objectContaining({ name: 'ReportError', code: 'REPORT_DATA_INVALID', context: { field } }),
        );
        expect(() => renderReport(d), field).toThrow(`${field} must be an integer >= 0`);
      }
    });

    it('refuses a run time that does not parse, a snapshot id that is not decimal, a table listed twice', () => {
      const badTime = reportData();
      const run = badTime.pipeline.snapshotHistory?.[1];
      if (run) run.at = 'second run';
      const badHistoryId = reportData();
      setHistory(badHistoryId, 0, 1, { snapshotId: '0x1f' });
      const badTableId = reportData();
      Object.assign(badTableId.pipeline.tables[4] ?? {}, { snapshotId: '12 34' });
      // No id is only right for a table without snapshots.
      const missingId = reportData();
      setHistory(missingId, 2, 3, { snapshotId: '' });
      const twice = reportData();
      const last = twice.pipeline.snapshotHistory?.[2];
      if (last?.tables[0]) last.tables.push({ ...last.tables[0], snapshots: 4 });

      expect(() => renderReport(badTime)).toThrow(
        expect.objectContaining({
          code: 'REPORT_DATA_INVALID',
          context: { field: 'pipeline.snapshotHistory[1].at' },
        }),
      );
      expect(() => renderReport(badTime)).toThrow('pipeline.snapshotHistory[1].at must be an ISO-8601 time');
      expect(() => renderReport(badHistoryId)).toThrow(
        'pipeline.snapshotHistory[0].tables[1].snapshotId must be a decimal snapshot id',
      );
      expect(() => renderReport(badTableId)).toThrow(
        'pipeline.tables[4].snapshotId must be a decimal snapshot id',
      );
      expect(() => renderReport(missingId)).toThrow(
        'pipeline.snapshotHistory[2].tables[3].snapshotId must be a decimal snapshot id',
      );
      expect(() => renderReport(twice)).toThrow(
        'pipeline.snapshotHistory[2].tables[4] must be a table not listed before in its run',
      );
    });
  });
});

describe('writeReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-report-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the rendered page and leaves no temporary file', async () => {
    const data = reportData();
    const path = join(dir, 'report.html');

    await writeReport(path, data);

    expect(readFileSync(path, 'utf8')).toBe(renderReport(data));
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('wraps a failed write in a ReportError with the path and the cause', async () => {
    const path = join(dir, 'missing', 'report.html');

    const error = await writeReport(path, reportData()).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(ReportError);
    expect(error).toMatchObject({
      code: 'REPORT_WRITE_FAILED',
      context: { path },
      cause: { code: 'ENOENT' },
    });
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
});
