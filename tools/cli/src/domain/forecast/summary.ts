import { poolCostModel, tokenCostMicros } from '@switchyard/config';
import { tierFromName, type BillableUsage, type TierName } from '@switchyard/contracts';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import { percentile } from '../percentile.js';
import type { SimResult } from './simulate.js';

const TIERS = ['realtime', 'internal', 'batch'] as const;

export interface TierSummary {
  readonly sent: number;
  readonly completed: number;
  readonly rejected: number;
  readonly failed: number;
  /** Completed with a first token within the tier's objective. */
  readonly withinSlo: number;
  /** `withinSlo / sent`: a rejection or a failure counts against it. 1 for a tier nothing was sent in. */
  readonly attainment: number;
  readonly ttftP50Ms: number;
  readonly ttftP95Ms: number;
  /** Requests that waited in admission's per-tenant pacing, and the 95th percentile of that wait (0 when none waited). */
  readonly pacedInAdmission: number;
  readonly admissionWaitP95Ms: number;
}

export interface PoolSummary {
  readonly pool: string;
  readonly workers: number;
  readonly costBasis: 'gpu-hour' | 'per-token';
  /** Share of provisioned GPU time spent stepping, 0..1: a GPU decoding one sequence is busy (per-token pools: 0). */
  readonly busy: number;
  /** Share of provisioned slot time holding a sequence, 0..1: how full the batches were (per-token pools: 0). */
  readonly utilisation: number;
  /** Micros: every worker for the whole window (per-token pools: the tokens they served). */
  readonly costMicros: number;
  /** Micros of `costMicros` paid for GPUs that were not stepping (`costMicros` = `busyMicros` + `idleMicros`). */
  readonly idleMicros: number;
  readonly busyMicros: number;
}

export interface BillLine {
  readonly tenant: string;
  readonly feature: string;
  readonly requests: number;
  readonly tokens: number;
  readonly micros: number;
}

export interface ForecastSummary {
  /** Simulated seconds the fleet is paid for: from the first arrival to the last event. */
  readonly windowS: number;
  readonly requests: number;
  readonly tiers: Readonly<Record<TierName, TierSummary>>;
  readonly pools: readonly PoolSummary[];
  readonly bill: readonly BillLine[];
  readonly billMicros: number;
  readonly gpuCostMicros: number;
  readonly idleMicros: number;
  /** Input plus output tokens of completed requests. */
  readonly tokens: number;
  /** Micros per 1,000 tokens: what tenants pay, and what the GPUs cost. */
  readonly billPer1kMicros: number;
  readonly gpuCostPer1kMicros: number;
}

/**
 * Figures of one simulated run: SLO attainment per tier against its TTFT objective, the bill
 * per tenant and feature (each completed request's usage priced as billing prices it, on-demand,
 * batch at its discount; the trace has no cached-token counts, so none are cached), and per pool
 * what its GPUs cost for the window, split into busy and idle.
 */
export function summarize(
  run: SimResult,
  o: { readonly model: string; readonly book: PriceBook; readonly sloTtftMs: Readonly<Record<TierName, number>> },
): ForecastSummary {
  const windowMs = Math.max(1, run.endMs - (run.outcomes[0]?.request.arrivalMs ?? 0));
  const tiers = Object.fromEntries(
    TIERS.map((tier) => {
      const of = run.outcomes.filter((x) => x.request.tier === tier);
      const ttfts = of.flatMap((x) => (x.outcome === 'completed' ? [x.ttftMs!] : [])).sort((a, b) => a - b);
      const within = of.filter((x) => x.outcome === 'completed' && x.ttftMs! <= o.sloTtftMs[tier]).length;
      const count = (outcome: string) => of.filter((x) => x.outcome === outcome).length;
      const paced = of.flatMap((x) => (x.admissionWaitMs ? [x.admissionWaitMs] : [])).sort((a, b) => a - b);
      const summary: TierSummary = {
        sent: of.length,
        completed: count('completed'),
        rejected: count('rejected'),
        failed: count('failed'),
        withinSlo: within,
        attainment: of.length ? within / of.length : 1,
        ttftP50Ms: percentile(ttfts, 50),
        ttftP95Ms: percentile(ttfts, 95),
        pacedInAdmission: paced.length,
        admissionWaitP95Ms: paced.length ? percentile(paced, 95) : 0,
      };
      return [tier, summary];
    }),
  ) as Record<TierName, TierSummary>;

  const bill = new Map<string, BillLine>();
  const poolTokens = new Map<string, { input: number; output: number }>();
  let tokens = 0;
  for (const x of run.outcomes) {
    if (x.outcome !== 'completed') continue;
    const r = x.request;
    const usage: BillableUsage = {
      usageId: '',
      requestId: '',
      tenant: r.tenant,
      feature: r.feature,
      model: o.model,
      tier: tierFromName(r.tier),
      pool: x.pool ?? '',
      usage: { inputTokens: r.promptTokens, cachedInputTokens: 0, outputTokens: x.outputTokens },
      gpuSeconds: 0,
      recordedUnixMs: 0,
    };
    const micros = o.book.models[o.model] ? priceUsage(usage, o.book).amountMicros : 0;
    const key = `${r.tenant}\u0000${r.feature}`;
    const line = bill.get(key) ?? { tenant: r.tenant, feature: r.feature, requests: 0, tokens: 0, micros: 0 };
    bill.set(key, { ...line, requests: line.requests + 1, tokens: line.tokens + r.promptTokens + x.outputTokens, micros: line.micros + micros });
    const t = poolTokens.get(x.pool!) ?? { input: 0, output: 0 };
    poolTokens.set(x.pool!, { input: t.input + r.promptTokens, output: t.output + x.outputTokens });
    tokens += r.promptTokens + x.outputTokens;
  }

  const pools = run.pools.map(({ pool, busyMs, occupiedSlotMs }): PoolSummary => {
    const cost = poolCostModel(pool);
    if (cost.kind === 'per-token') {
      const t = poolTokens.get(pool.id) ?? { input: 0, output: 0 };
      const micros = tokenCostMicros(cost, { inputTokens: t.input, cachedInputTokens: 0, outputTokens: t.output });
      return { pool: pool.id, workers: pool.workers, costBasis: 'per-token', busy: 0, utilisation: 0, costMicros: micros, idleMicros: 0, busyMicros: micros };
    }
    const perMs = (cost.pricePerGpuHour * 1e6) / 3_600_000;
    const provisionedMs = pool.workers * windowMs;
    const costMicros = Math.round(provisionedMs * perMs);
    const busyMicros = Math.round(Math.min(busyMs, provisionedMs) * perMs);
    return {
      pool: pool.id,
      workers: pool.workers,
      costBasis: 'gpu-hour',
      busy: provisionedMs ? Math.min(1, busyMs / provisionedMs) : 0,
      utilisation: provisionedMs ? Math.min(1, occupiedSlotMs / (provisionedMs * pool.slotsPerWorker)) : 0,
      costMicros,
      busyMicros,
      idleMicros: costMicros - busyMicros,
    };
  });
  const billMicros = [...bill.values()].reduce((a, b) => a + b.micros, 0);
  const gpuCostMicros = pools.reduce((a, p) => a + p.costMicros, 0);
  return {
    windowS: windowMs / 1_000,
    requests: run.outcomes.length,
    tiers,
    pools,
    bill: [...bill.values()].sort((a, b) => b.micros - a.micros || a.tenant.localeCompare(b.tenant) || a.feature.localeCompare(b.feature)),
    billMicros,
    gpuCostMicros,
    idleMicros: pools.reduce((a, p) => a + p.idleMicros, 0),
    tokens,
    billPer1kMicros: tokens ? (billMicros / tokens) * 1_000 : 0,
    gpuCostPer1kMicros: tokens ? (gpuCostMicros / tokens) * 1_000 : 0,
  };
}
