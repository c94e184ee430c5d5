// Opens report.html in a real headless Chromium (Debian's `chromium`, driven by playwright-core,
// which never downloads a browser here) to check what string tests cannot: that the browser
// parses the SVG, lays every chart out with a size, draws its shapes, loads nothing from the
// network and logs no error.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, writeReport } from '../../src/report.js';
import { reportData } from '../fixtures/report-data.js';

const INSTALL =
  'install it with `apt-get update && apt-get install -y --no-install-recommends chromium` ' +
  '(what .ci/run does), or set CHROMIUM_PATH to a Chromium or Chrome binary';

/** CHROMIUM_PATH when set (and it must exist), else the first candidate that exists; never a download. */
function findChromium(env: NodeJS.ProcessEnv, candidates: string[]): string {
  const configured = env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist; ${INSTALL}`);
    return configured;
  }
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`no Chromium found at ${candidates.join(', ')}; ${INSTALL}`);
  return found;
}

// What the page code calls, typed here because the tests compile without the DOM lib.
interface SvgShape {
  tagName: string;
  getAttribute(name: string): string | null;
  getBBox(): { width: number; height: number };
  getTotalLength?(): number;
}
interface BrowserWindow {
  getComputedStyle(element: unknown): { fill: string };
}

interface Opened {
  page: Page;
  /** Requests to anything but the report file itself or a data: URL (each aborted). */
  external: string[];
  errors: string[];
}

describe('report.html in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-report-'));
  const reportPath = join(dir, 'report.html');
  let browser: Browser | undefined;
  let setupError: unknown;

  beforeAll(async () => {
    // Kept and rethrown by each test, so a machine without a browser shows every browser test as
    // failed with the install hint (a throw here would only mark them skipped).
    try {
      const executablePath = findChromium(process.env, ['/usr/bin/chromium']);
      browser = await chromium.launch({ executablePath, headless: true });
      await writeReport(reportPath, reportData());
    } catch (error) {
      setupError = error;
    }
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Opened> {
    if (browser === undefined) throw setupError;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const external: string[] = [];
    const errors: string[] = [];
    const allowed = (url: string) => url.startsWith('data:') || url === pathToFileURL(path).href;
    const record = (url: string) => {
      if (!allowed(url) && !external.includes(url)) external.push(url);
    };
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (allowed(url)) return route.continue();
      record(url);
      return route.abort('blockedbyclient');
    });
    // Also from the request events, in case a scheme escapes routing.
    page.on('request', (request) => record(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
    return { page, external, errors };
  }

  it('lays out every chart with a size and drawn shapes', async () => {
    const { page } = await open(reportPath);

    const charts = await page.$$eval('svg[data-chart]', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        // The data's shapes, not the axes: an empty chart still has its frame and grid lines.
        const shapes = [
          ...svg.querySelectorAll(':not(.axis) > :is(path, circle, rect)'),
        ] as unknown as SvgShape[];
        const isDrawn = (shape: SvgShape) => {
          const box = shape.getBBox();
          const sized = box.width > 0 || box.height > 0;
          if (shape.tagName === 'path') {
            return sized && (shape.getAttribute('d') ?? '') !== '' && (shape.getTotalLength?.() ?? 0) > 0;
          }
          if (shape.tagName === 'circle') return sized && Number(shape.getAttribute('r')) > 0;
          return box.width > 0 && box.height > 0;
        };
        const drawn = shapes.filter(isDrawn);
        return {
          name: svg.getAttribute('data-chart'),
          role: svg.getAttribute('role'),
          label: svg.getAttribute('aria-label') ?? '',
          width: box.width,
          height: box.height,
          drawn: drawn.length,
          // Every line, band and bar must show: one left empty is a chart that silently lost data.
          undrawn: shapes
            .filter((shape) => shape.tagName === 'path' && !isDrawn(shape))
            .map((shape) => shape.getAttribute('class')),
        };
      }),
    );

    expect(charts.map((c) => c.name).sort()).toEqual([
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
    ]);
    for (const chart of charts) {
      expect(chart.role, `${chart.name} role`).toBe('img');
      expect(chart.label.length, `${chart.name} aria-label`).toBeGreaterThan(20);
      expect(chart.width, `${chart.name} width`).toBeGreaterThan(100);
      expect(chart.height, `${chart.name} height`).toBeGreaterThan(50);
      expect(chart.drawn, `${chart.name} drawn shapes`).toBeGreaterThan(0);
      expect(chart.undrawn, `${chart.name} empty paths`).toEqual([]);
    }
    // The browser parsed what the unit tests counted in the string: 9 anomaly dots, 10 coin lines,
    // 12 snapshot bars.
    expect(await page.locator('svg[data-chart^="sensor-"] circle.anomaly').count()).toBe(9);
    expect(await page.locator('svg[data-chart="coin-prices"] path.coin').count()).toBe(10);
    // 4 Iceberg tables × 3 runs.
    expect(await page.locator('svg[data-chart="snapshot-history"] path.snapshot-bar').count()).toBe(12);
    // And draws them in red, from the inline stylesheet.
    expect(
      await page
        .locator('circle.anomaly')
        .first()
        .evaluate((c) => (globalThis as unknown as BrowserWindow).getComputedStyle(c).fill),
    ).toBe('rgb(214, 39, 40)');
  });

  it('makes no network request and logs no error', async () => {
    const { external, errors } = await open(reportPath);

    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('saves a full-page screenshot as a PNG', async () => {
    const { page } = await open(reportPath);
    const screenshot = join(dir, 'report.png');

    await page.screenshot({ path: screenshot, fullPage: true });
    const png = readFileSync(screenshot);

    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR: width and height, big-endian, at bytes 16 and 20; the page is longer than the viewport.
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBeGreaterThan(1_500);
    // A blank page of this size compresses to a few KiB; drawn charts and text do not.
    expect(statSync(screenshot).size).toBeGreaterThan(100_000);
  });

  it('would notice a page that reaches out: a blocked request, or a CSP error in the console', async () => {
    // Arrange: the same report with an external image, once without and once with its CSP.
    const html = renderReport(reportData());
    const image = '<img src="http://127.0.0.1:9/pixel.png" alt="">';
    const withoutCsp = join(dir, 'leaky.html');
    const withCsp = join(dir, 'leaky-csp.html');
    writeFileSync(
      withoutCsp,
      html
        .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '')
        .replace('<body>', `<body>${image}`),
    );
    writeFileSync(withCsp, html.replace('<body>', `<body>${image}`));

    const leaky = await open(withoutCsp);
    const guarded = await open(withCsp);

    expect(leaky.external).toEqual(['http://127.0.0.1:9/pixel.png']);
    // The CSP blocks the load before it leaves the browser; Chromium still reports the attempt as
    // a request, and logs the violation as a console error: either check fails the report.
    expect(guarded.external).toEqual(['http://127.0.0.1:9/pixel.png']);
    expect(guarded.errors.join('\n')).toMatch(
      /violates the following Content Security Policy directive: "img-src data:"/,
    );
  });

  it('fails, saying how to install it, when no Chromium is found', () => {
    expect(() => findChromium({}, ['/nonexistent/chromium'])).toThrow(
      /apt-get install -y --no-install-recommends chromium/,
    );
    expect(() => findChromium({ CHROMIUM_PATH: '/nonexistent/chrome' }, ['/usr/bin/chromium'])).toThrow(
      /CHROMIUM_PATH=\/nonexistent\/chrome does not exist/,
    );
  });
});
