import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHARTS_SETTLED, buildReport, launchChromium } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const artefacts = join(here, '..', '..', '..', 'test-artifacts');
// Not skipped without Chromium: `.ci/run` installs Debian's, and a missing one must fail loudly.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('switchyard report in headless Chromium', () => {
  let dir: string;
  let browser: Browser;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'report-'));
    browser = await launchChromium(chromiumPath);
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws every chart from the inlined library, fetches nothing, and logs no error', async () => {
    const html = buildReport(join(fixtures, 'report-run.json'), join(fixtures, 'report-forecast.json'));
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    const file = join(dir, 'report.html');
    writeFileSync(file, html);
    const url = pathToFileURL(file).href;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(ALL_CHARTS_SETTLED, undefined, { timeout: 30_000 });

    const charts = await page.$$eval('div.chart', (els) =>
      els.map((el) => {
        const canvas = el.querySelector('canvas');
        return { name: el.getAttribute('data-chart'), drawn: el.getAttribute('data-drawn'), width: canvas?.width ?? 0, height: canvas?.height ?? 0 };
      }),
    );
    // The fixture run has no feature per request, so that one chart is a note instead.
    expect(charts.map((c) => c.name)).toEqual(['ttft', 'e2e', 'throughput', 'in-flight', 'utilisation', 'cost-tenant', 'cost-model']);
    for (const c of charts) {
      expect(c.drawn, c.name!).toBe('true');
      expect(c.width, c.name!).toBeGreaterThan(0);
      expect(c.height, c.name!).toBeGreaterThan(0);
    }
    expect(await page.$eval('[data-chart-note="cost-feature"]', (el) => el.textContent)).toMatch(/feature/);
    expect(await page.$$eval('table.forecast tbody tr', (rows) => rows.length)).toBe(3);
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);

    mkdirSync(artefacts, { recursive: true });
    await page.screenshot({ path: join(artefacts, 'report.png'), fullPage: true });
    await page.close();
  });

  it('says which file is malformed and what it lacks', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ options: { model: 'm' }, windowS: 1, tiers: {}, all: {} }));
    expect(() => buildReport(bad)).toThrow(`${bad} is not the output of \`switchyard load --json\`: records (the per-request records) is missing`);
    expect(() => buildReport(join(dir, 'absent.json'))).toThrow(/cannot read the load run .*absent\.json/);
  });

  it('says how to get Chromium when there is none', async () => {
    await expect(launchChromium(join(dir, 'no-chromium'))).rejects.toThrow(/install Debian's `chromium`.*or set CHROMIUM_PATH/);
  });
});
