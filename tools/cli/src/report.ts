import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import type { Browser } from 'playwright-core';
import { reportData } from './domain/report-data.js';
import { checkForecast, checkRun } from './domain/report-input.js';
import { reportHtml } from './report-html.js';

/** Flags a headless Chromium in a container needs: no sandbox (often no user namespaces), no GPU, no phoning home. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`);
  }
}

/** Reads RUN.json (and FORECAST.json) and builds the report's HTML. */
export function buildReport(runFile: string, forecastFile?: string): string {
  const run = checkRun(readJson(runFile, 'the load run'), runFile);
  const forecast = forecastFile ? checkForecast(readJson(forecastFile, 'the forecast'), forecastFile) : undefined;
  return reportHtml(reportData(run, forecast));
}

/** Starts headless Chromium at `executablePath`, saying how to get one when it is not there. */
export async function launchChromium(executablePath: string): Promise<Browser> {
  if (!existsSync(executablePath))
    throw new Error(`no Chromium at ${executablePath}: install Debian's \`chromium\` (apt-get install chromium) or set CHROMIUM_PATH`);
  // Loaded here, not at the top: playwright-core costs every CLI command ~0.4 s and ~33 MB of
  // heap, and only `report --png` and the tests need a browser.
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** True in the page once every chart has drawn or failed (the page script sets `data-drawn` or `data-error`); a string since it runs in the browser. */
export const ALL_CHARTS_SETTLED = `[...document.querySelectorAll('div.chart')].every((el) => el.hasAttribute('data-drawn') || el.hasAttribute('data-error'))`;

/** Opens the report file and waits until every chart has drawn, then screenshots the whole page. */
export async function renderPng(htmlFile: string, pngFile: string, executablePath: string): Promise<void> {
  const browser = await launchChromium(executablePath);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(pathToFileURL(resolve(htmlFile)).href);
    await page.waitForFunction(ALL_CHARTS_SETTLED, undefined, { timeout: 30_000 });
    const failed = await page.$$eval('div.chart[data-error]', (els) => els.map((el) => `${el.getAttribute('data-chart')}: ${el.getAttribute('data-error')}`));
    if (failed.length) throw new Error(`${htmlFile}: charts failed to draw: ${failed.join('; ')}`);
    await page.screenshot({ path: pngFile, fullPage: true });
  } finally {
    await browser.close();
  }
}

interface ReportFlags {
  out: string;
  forecast?: string;
  png?: string;
}

export function registerReportCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('report')
    .description(
      'one self-contained HTML file from `switchyard load --json` (and `forecast --json`): TTFT and end-to-end CDFs per tier, throughput ' +
        'and requests in flight over time, utilisation per pool (from the forecast), cost by tenant and model, the forecast table (README "Reports")',
    )
    .argument('<run.json>', 'what `switchyard load --json FILE` wrote')
    .requiredOption('--out <file>', 'the HTML file to write')
    .option('--forecast <file>', 'what `switchyard forecast --json FILE` wrote: adds utilisation per pool and the forecast table')
    .option('--png <file>', 'also render the page to a PNG through headless Chromium ($CHROMIUM_PATH, default /usr/bin/chromium)')
    .action(async (runFile: string, o: ReportFlags) => {
      writeFileSync(o.out, buildReport(runFile, o.forecast));
      console.log(`report written to ${o.out}`);
      if (o.png) {
        await renderPng(o.out, o.png, env.CHROMIUM_PATH ?? '/usr/bin/chromium');
        console.log(`screenshot written to ${o.png}`);
      }
    });
}
