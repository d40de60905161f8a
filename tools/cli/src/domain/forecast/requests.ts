import { planLoad, type PlanOptions } from '../load-plan.js';
import type { TraceRow } from '../trace-format.js';
import type { SimRequest } from './simulate.js';

export interface ScaledRequests {
  readonly requests: readonly SimRequest[];
  readonly skippedOverPromptLimit: number;
  readonly clampedOutput: number;
}

/**
 * The requests of a trace at `scale` times its arrival rate, for `durationS` simulated seconds:
 * arrival times are divided by the scale (the load generator's `--speed`), so 2x takes twice as
 * many rows of the trace into the same window. Compressing keeps every request a real one of the
 * trace, with its own size, and keeps the trace's bursts (at 2x a burst is twice as dense), where
 * replicating each row would send identical twins at once and double every burst's height
 * exactly. Tiers and tenants are drawn per row as `switchyard load` draws them, so a row has
 * the same tier at every scale.
 */
export function scaledRequests(rows: readonly TraceRow[], scale: number, o: Omit<PlanOptions, 'speed'> & { readonly feature: string }): ScaledRequests {
  const plan = planLoad(rows, { ...o, speed: scale });
  return {
    requests: plan.requests.map((r) => ({
      index: r.index,
      tier: r.tier,
      tenant: r.tenant,
      feature: o.feature,
      promptTokens: r.promptTokens,
      maxTokens: r.maxTokens,
      arrivalMs: r.sendAtMs,
    })),
    skippedOverPromptLimit: plan.skippedOverPromptLimit,
    clampedOutput: plan.clampedOutput,
  };
}
