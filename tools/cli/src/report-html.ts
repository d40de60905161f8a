import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportData } from './domain/report-data.js';
import type { TierResult } from './domain/load-result.js';

/** Charts the page draws, by `data-chart` name, each with its title. */
export const CHARTS = {
  ttft: 'Time to first token, CDF per tier (completed requests)',
  e2e: 'End-to-end latency, CDF per tier (completed requests)',
  throughput: 'Throughput: completions per second',
  'in-flight': 'Queue depth: requests in flight (sent, not ended) per second, peak',
  utilisation: 'Utilisation per pool at each forecast scale',
  'cost-tenant': 'Cost by tenant (USD)',
  'cost-model': 'Cost by model (USD)',
  'cost-feature': 'Cost by feature (USD)',
} as const;
export type ChartName = keyof typeof CHARTS;

/** Which charts have data to draw; the others get a note saying why not. */
export function drawnCharts(data: ReportData): ChartName[] {
  return (Object.keys(CHARTS) as ChartName[]).filter((c) => !data.notes[c]);
}

/** JSON safe inside a `<script>`: no `</script>`, no `<!--`, no line separators JavaScript would choke on. */
export const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The chart library, read from the installed package so the page needs no network. */
function echartsSource(): string {
  const path = createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js');
  // A literal `</script` in the library would end the tag early; `<\/` means the same to JavaScript.
  return readFileSync(path, 'utf8').replace(/<\/script/gi, '<\\/script');
}

const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '–');
const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : '–');
const usd = (n: number) => `$${n.toFixed(n < 1 ? 6 : 2)}`;

function tierTable(data: ReportData): string {
  const row = (name: string, t: TierResult) =>
    `<tr><th>${escapeHtml(name)}</th><td>${t.requests}</td><td>${t.completed}</td><td>${t.rejected}</td><td>${t.failed}</td><td>${t.dropped}</td>` +
    `<td>${ms(t.ttftMs.p50)} / ${ms(t.ttftMs.p95)} / ${ms(t.ttftMs.p99)}</td><td>${ms(t.e2eMs.p50)} / ${ms(t.e2eMs.p95)} / ${ms(t.e2eMs.p99)}</td>` +
    `<td>${pct(t.sloAttainment)}</td><td>${t.goodputPerS.toFixed(2)}</td><td>${usd(t.costUsd)}</td></tr>`;
  return (
    '<table class="tiers"><thead><tr><th>tier</th><th>requests</th><th>completed</th><th>rejected</th><th>failed</th><th>dropped</th>' +
    '<th>TTFT p50/p95/p99</th><th>e2e p50/p95/p99</th><th>SLO attainment</th><th>goodput /s</th><th>cost</th></tr></thead><tbody>' +
    data.tiers.map(({ tier, figures }) => row(tier, figures)).join('') +
    row('all', data.all) +
    '</tbody></table>'
  );
}

function forecastTable(data: ReportData): string {
  if (!data.forecast) return '';
  const tiers = [...new Set(data.forecast.flatMap((f) => Object.keys(f.attainment)))];
  const rows = data.forecast
    .map(
      (f) =>
        `<tr><th>${f.scale}x</th><td>${f.requests}</td>${tiers.map((t) => `<td>${pct(f.attainment[t] ?? Number.NaN)}</td>`).join('')}` +
        `<td>${usd(f.billUsd)}</td><td>${usd(f.gpuCostUsd)}</td><td>${usd(f.billPer1kUsd)}</td>` +
        `<td>${
          f.extraGpus
            ? escapeHtml(
                Object.entries(f.extraGpus)
                  .map(([p, n]) => `+${n} ${p}`)
                  .join(', ') || 'none found',
              ) + (f.capacityMet ? '' : ' (target not met)')
            : 'none needed'
        }</td></tr>`,
    )
    .join('');
  return (
    '<h2>Forecast</h2><table class="forecast"><thead><tr><th>scale</th><th>requests</th>' +
    tiers.map((t) => `<th>${escapeHtml(t)} SLO</th>`).join('') +
    `<th>bill</th><th>GPU cost</th><th>bill per 1K tokens</th><th>extra GPUs to meet the target</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

/** Draws each `div.chart` from the embedded data and marks it `data-drawn` once ECharts has rendered it, or `data-error`. */
const PAGE_SCRIPT = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const base = { animation: false, grid: { left: 60, right: 20, top: 40, bottom: 50 }, tooltip: { trigger: 'axis' }, legend: { top: 0 } };
const line = (series, xName, yName, yMax) => ({ ...base,
  xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 28 },
  yAxis: { type: 'value', name: yName, max: yMax },
  series: Object.entries(series).map(([name, points]) => ({ name, type: 'line', showSymbol: false, step: yMax ? 'end' : false, data: points })) });
const bars = (pairs) => ({ ...base, tooltip: { trigger: 'item' },
  xAxis: { type: 'category', data: pairs.map((p) => p[0]) }, yAxis: { type: 'value', name: 'USD' },
  series: [{ type: 'bar', data: pairs.map((p) => p[1]) }] });
const options = {
  ttft: () => line(data.ttftCdf, 'ms', 'share', 1),
  e2e: () => line(data.e2eCdf, 'ms', 'share', 1),
  throughput: () => line({ 'completions/s': data.throughput }, 'second of the run', 'per second'),
  'in-flight': () => line({ 'in flight': data.inFlight }, 'second of the run', 'requests'),
  utilisation: () => {
    const pools = [...new Set(data.utilisation.flatMap((s) => s.pools.map((p) => p.pool)))];
    const scales = data.utilisation.map((s) => s.scale + 'x');
    const of = (pool, key) => data.utilisation.map((s) => { const p = s.pools.find((q) => q.pool === pool); return p ? p[key] : null; });
    return { ...base, grid: { ...base.grid, top: 80 }, xAxis: { type: 'category', data: scales, name: 'scale' }, yAxis: { type: 'value', max: 1, name: 'share' },
      series: pools.flatMap((pool) => [
        { name: pool + ' busy', type: 'bar', data: of(pool, 'busy') },
        { name: pool + ' slots', type: 'bar', data: of(pool, 'utilisation') }]) };
  },
  'cost-tenant': () => bars(data.costByTenant),
  'cost-model': () => bars(data.costByModel),
  'cost-feature': () => bars(data.costByFeature),
};
for (const el of document.querySelectorAll('div.chart')) {
  // One broken chart must not stop the others, and must say so where a waiting browser can see it.
  try {
    const option = options[el.dataset.chart]();
    const chart = echarts.init(el, null, { renderer: 'canvas' });
    chart.on('finished', () => { if (el.querySelector('canvas')) el.setAttribute('data-drawn', 'true'); });
    chart.setOption(option);
  } catch (e) {
    el.setAttribute('data-error', String(e));
    console.error('chart ' + el.dataset.chart + ': ' + e);
  }
}
`;

/** The whole report as one HTML page: ECharts and the data inlined, nothing fetched. */
export function reportHtml(data: ReportData): string {
  const charts = (Object.keys(CHARTS) as ChartName[])
    .map((c) => {
      const title = `<h3>${escapeHtml(CHARTS[c])}</h3>`;
      const note = data.notes[c];
      return note
        ? `<section>${title}<p class="note" data-chart-note="${c}">${escapeHtml(note)}</p></section>`
        : `<section>${title}<div class="chart" data-chart="${c}"></div></section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.chart { width: 100%; height: 320px; }
.note { color: #666; font-style: italic; }
</style></head><body>
<h1>${escapeHtml(data.title)}</h1>
<p>Model ${escapeHtml(data.model)}; ${data.windowS.toFixed(1)} s replay window; ${data.outcomes.completed} completed, ${data.outcomes.rejected} rejected, ${data.outcomes.failed} failed, ${data.outcomes.dropped} dropped.</p>
${tierTable(data)}
<div class="charts">
${charts}
</div>
${forecastTable(data)}
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${echartsSource()}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
