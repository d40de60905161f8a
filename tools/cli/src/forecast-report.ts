import type { ScaleForecast } from './domain/forecast/forecast.js';
import type { ForecastSummary } from './domain/forecast/summary.js';
import { fmt } from './domain/percentile.js';
import { table } from './table.js';

const TIERS = ['realtime', 'internal', 'batch'] as const;
const pct = (v: number) => `${fmt(100 * v, 1)}%`;
const usd = (micros: number, digits = 4) => fmt(micros / 1e6, digits);

export interface ForecastHeader {
  /** What the requests are: `trace FILE (format)` or `recorded window FROM to TO`. */
  readonly source: string;
  readonly model: string;
  readonly durationS: number;
  readonly target: number;
  /** Lines printed under the title: what was left out or cannot be priced. */
  readonly notes: readonly string[];
}

/** One row per scale: requests, per tier attainment, bill, GPU cost, idle cost, $/1K tokens. */
function overview(scales: readonly ScaleForecast[]): string {
  const rows: string[][] = [
    ['scale', 'requests', ...TIERS.map((t) => `${t} SLO`), 'bill $', 'GPU cost $', 'idle $', 'bill $/1K tok', 'GPU $/1K tok', 'tokens', 'GPUs to add'],
  ];
  for (const { scale, summary: s, capacity: c } of scales) {
    const added = c ? Object.values(c.extra).reduce((a, k) => a + k, 0) : 0;
    rows.push([
      `${scale}x`,
      String(s.requests),
      ...TIERS.map((t) => pct(s.tiers[t].attainment)),
      usd(s.billMicros),
      usd(s.gpuCostMicros),
      usd(s.idleMicros),
      usd(s.billPer1kMicros, 5),
      usd(s.gpuCostPer1kMicros, 5),
      String(s.tokens),
      // Not found within the search's bounds: at least this many more than were tried.
      c && !c.met ? `>${added}` : String(added),
    ]);
  }
  return table(rows);
}

function details(f: ScaleForecast, header: ForecastHeader): string[] {
  const s: ForecastSummary = f.summary;
  const out = [``, `${f.scale}x: ${s.requests} requests, fleet paid for ${fmt(s.windowS, 1)} simulated s`];
  if (f.skippedOverPromptLimit) out.push(`  skipped: ${f.skippedOverPromptLimit} rows over the prompt limit`);
  if (f.clampedOutput) out.push(`  clamped: ${f.clampedOutput} rows' outputs to the output limit`);
  const tiers: string[][] = [['  tier', 'sent', 'done', 'rejected', 'failed', 'TTFT p50/p95 ms', 'within SLO', 'attained']];
  for (const t of TIERS) {
    const x = s.tiers[t];
    if (x.sent === 0) continue;
    tiers.push([
      `  ${t}`,
      String(x.sent),
      String(x.completed),
      String(x.rejected),
      String(x.failed),
      `${fmt(x.ttftP50Ms, 0)}/${fmt(x.ttftP95Ms, 0)}`,
      String(x.withinSlo),
      pct(x.attainment),
    ]);
  }
  out.push(table(tiers));
  const pools: string[][] = [['  pool', 'GPUs', 'busy', 'slots used', 'cost $', 'idle $']];
  for (const p of s.pools) pools.push([`  ${p.pool}`, String(p.workers), pct(p.busy), pct(p.utilisation), usd(p.costMicros), usd(p.idleMicros)]);
  out.push(table(pools));
  const bill: string[][] = [['  tenant', 'feature', 'requests', 'tokens', 'bill $']];
  for (const b of s.bill) bill.push([`  ${b.tenant}`, b.feature, String(b.requests), String(b.tokens), usd(b.micros)]);
  out.push(table(bill));
  const c = f.capacity;
  if (c) {
    const added = Object.entries(c.extra).filter(([, k]) => k > 0);
    const after = TIERS.map((t) => `${t} ${pct(c.summary.tiers[t].attainment)}`).join(', ');
    if (c.met) {
      out.push(`  capacity: to reach ${pct(header.target)} SLO attainment in every tier (${c.simulations} simulations):`);
      for (const [pool, k] of added) out.push(`    ${pool} +${k} GPUs`);
      out.push(`    -> ${after}; extra GPU cost $${usd(c.extraCostMicros)} over the window`);
    } else {
      out.push(`  capacity: not found: ${c.stoppedBecause}; with ${added.map(([p, k]) => `${p} +${k}`).join(', ') || 'nothing added'}: ${after}`);
      // GPUs shorten calls, but a tenant sending more at once than admission lets run still queues there.
      for (const t of TIERS) {
        const paced = c.summary.tiers[t];
        if (paced.attainment < header.target && paced.pacedInAdmission > 0)
          out.push(
            `    ${t}: ${paced.pacedInAdmission} requests still waited in admission's per-tenant pacing (p95 ${fmt(paced.admissionWaitP95Ms, 0)} ms), ` +
              `which more GPUs do not lift: raise TENANT_IN_FLIGHT for ${t} (try --tenant-in-flight ${t}=N)`,
          );
      }
    }
  }
  return out;
}

/** The forecast: what was simulated, one row per scale, then each scale's tiers, pools, bill and capacity plan. */
export function formatForecast(scales: readonly ScaleForecast[], header: ForecastHeader): string {
  const out = [
    `forecast of ${header.source}, model ${header.model}, ${header.durationS} simulated s of arrivals per scale; ` +
      `SLO target ${pct(header.target)} per tier`,
    ...header.notes.map((l) => `note: ${l}`),
    '',
    overview(scales),
    ...scales.flatMap((f) => details(f, header)),
  ];
  return out.join('\n');
}
