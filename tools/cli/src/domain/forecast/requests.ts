import { planLoad, type PlanOptions } from '../load-plan.js';
import { seededRandom } from '../tier-mix.js';
import type { TraceRow } from '../trace-format.js';
import type { SimRequest } from './simulate.js';

export interface ScaledRequests {
  readonly requests: readonly SimRequest[];
  readonly skippedOverPromptLimit: number;
  readonly clampedOutput: number;
}

/**
 * The requests of the trace's first `durationS` seconds at `scale` times its arrival rate: each
 * request of the window is sent `floor(scale)` times, and once more with probability
 * `scale - floor(scale)`; every copy after the first arrives at a uniformly drawn moment between
 * its original and the next request of the trace, with the original's size, tier, tenant and
 * feature (the row's, else `o.feature`).
 *
 * Why replicate rather than compress time (the load generator's `--speed`): traces are not
 * stationary (the Azure conversation trace's first two minutes carry 3.8 requests a second, its hour 5.5), so
 * compressing would compare 2x over a different stretch of the trace with 1x, and "2x" would not
 * be twice the requests. Replicating keeps the window, keeps exactly `scale` times its requests,
 * tiers and sizes, and keeps its bursts where they were (a burst at 2x is twice as dense); the
 * jitter keeps twins from arriving in the same instant.
 */
export function scaledRequests(rows: readonly TraceRow[], scale: number, o: Omit<PlanOptions, 'speed'> & { readonly feature: string }): ScaledRequests {
  if (!(scale > 0)) throw new Error('a scale must be above 0');
  // A trace that names its tenants is billed to them; `o.tenants` only spreads traces that do not.
  const named = [...new Set(rows.flatMap((r) => (r.tenant === undefined ? [] : [r.tenant])))];
  const plan = planLoad(rows, { ...o, tenants: named.length ? named : o.tenants, speed: 1 });
  const random = seededRandom(o.seed ^ 0x5ca1e);
  const window = (o.durationS ?? Number.POSITIVE_INFINITY) * 1_000;
  const copies: Array<Omit<SimRequest, 'index'>> = [];
  plan.requests.forEach((r, i) => {
    const nextMs = Math.min(plan.requests[i + 1]?.sendAtMs ?? window, window);
    const gap = Number.isFinite(nextMs) ? Math.max(0, nextMs - r.sendAtMs) : 0;
    const whole = Math.floor(scale);
    const n = whole + (random() < scale - whole ? 1 : 0);
    for (let k = 0; k < n; k++) {
      copies.push({
        tier: r.tier,
        tenant: r.tenant,
        feature: r.feature ?? o.feature,
        promptTokens: r.promptTokens,
        maxTokens: r.maxTokens,
        arrivalMs: k === 0 ? r.sendAtMs : r.sendAtMs + random() * gap,
      });
    }
  });
  copies.sort((a, b) => a.arrivalMs - b.arrivalMs);
  return {
    requests: copies.map((c, index) => ({ index, ...c })),
    skippedOverPromptLimit: plan.skippedOverPromptLimit,
    clampedOutput: plan.clampedOutput,
  };
}
