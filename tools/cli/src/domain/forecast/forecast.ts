import { poolCostModel, poolKind, type PoolSpec } from '@switchyard/config';
import type { TierName } from '@switchyard/contracts';
import type { PerfModel } from '@switchyard/perf-model';
import type { PriceBook } from '@switchyard/pricing';
import { poolVersion, type SchedulingConfig } from '@switchyard/scheduler';
import type { TierMix } from '../tier-mix.js';
import type { TraceRow } from '../trace-format.js';
import { planCapacity, worstShortfall, type CapacityPlan } from './capacity.js';
import { scaledRequests } from './requests.js';
import { simulate } from './simulate.js';
import { summarize, type ForecastSummary } from './summary.js';

export interface ForecastOptions {
  readonly rows: readonly TraceRow[];
  /** Arrival-rate multipliers, e.g. [1, 2, 5]. */
  readonly scales: readonly number[];
  /** Pools of the pools file; only the simulated ones are simulated. */
  readonly pools: readonly PoolSpec[];
  readonly perf: ReadonlyMap<string, PerfModel>;
  readonly scheduling: SchedulingConfig;
  readonly model: string;
  readonly book: PriceBook;
  /** Simulated seconds of arrivals per scale. */
  readonly durationS: number;
  readonly tierMix: TierMix;
  readonly tenants: readonly string[];
  /** Feature every request is billed under (traces carry none). */
  readonly feature: string;
  readonly seed: number;
  readonly maxPromptTokens: number;
  readonly maxOutputTokens: number;
  /** Attainment every tier must reach, 0..1; a scale short of it gets a capacity plan. */
  readonly target: number;
  /** Admission's pacing per tenant and tier (see `SimulateInput.inFlightPerTenant`); undefined: none. */
  readonly inFlightPerTenant?: Readonly<Record<TierName, number>>;
  readonly maxExtra?: number;
  readonly maxSimulations?: number;
}

export interface ScaleForecast {
  readonly scale: number;
  readonly skippedOverPromptLimit: number;
  readonly clampedOutput: number;
  readonly summary: ForecastSummary;
  /** Present when a tier misses the target with the fleet as it is. */
  readonly capacity?: CapacityPlan & {
    /** What the extra GPUs cost over the planned run's window, micros. */
    readonly extraCostMicros: number;
  };
}

export interface ForecastDeps {
  /** A line of progress (stderr). */
  readonly progress?: (line: string) => void;
}

/** The pools the simulation can run: simulated GPUs; real engines and providers are left out. */
export const simulatedPools = (pools: readonly PoolSpec[]) => pools.filter((p) => poolKind(p) === 'simulated');

/** Pools the capacity planner may grow: simulated GPU-hour pools serving the model. */
export const growablePools = (pools: readonly PoolSpec[], model: string) =>
  simulatedPools(pools).filter((p) => poolVersion(p) === model && poolCostModel(p).kind === 'gpu-hour');

/**
 * Forecasts each scale: the trace's requests at that arrival rate replayed against the
 * simulated fleet, summarised; when a tier misses the target, the smallest number of extra
 * GPUs per pool that meets it (re-simulated).
 */
export function forecast(o: ForecastOptions, deps: ForecastDeps = {}): ScaleForecast[] {
  const pools = simulatedPools(o.pools);
  const sloTtftMs = Object.fromEntries((['realtime', 'internal', 'batch'] as const).map((t) => [t, o.scheduling.tiers[t].ttftMs])) as Record<TierName, number>;
  const growable = growablePools(o.pools, o.model).map((p) => p.id);
  return o.scales.map((scale) => {
    const scaled = scaledRequests(o.rows, scale, { ...o, durationS: o.durationS });
    const evaluate = (extra: Readonly<Record<string, number>>) =>
      summarize(
        simulate({
          pools: pools.map((p) => ({ ...p, workers: p.workers + (extra[p.id] ?? 0) })),
          perf: o.perf,
          scheduling: o.scheduling,
          model: o.model,
          requests: scaled.requests,
          seed: o.seed,
          inFlightPerTenant: o.inFlightPerTenant,
        }),
        { model: o.model, book: o.book, sloTtftMs },
      );
    deps.progress?.(`${scale}x: simulating ${scaled.requests.length} requests over ${o.durationS} s`);
    const summary = evaluate({});
    const base = { scale, skippedOverPromptLimit: scaled.skippedOverPromptLimit, clampedOutput: scaled.clampedOutput, summary };
    if (worstShortfall(summary, o.target) >= 0) return base;
    let first = true;
    const plan = planCapacity({
      pools: growable,
      target: o.target,
      maxExtra: o.maxExtra,
      maxSimulations: o.maxSimulations,
      // The planner's first simulation is the fleet as it is, already run above.
      evaluate: (extra) => (first && !(first = false) ? summary : evaluate(extra)),
      onSimulation: (n, extra) =>
        n > 1 &&
        deps.progress?.(
          `${scale}x: capacity search, simulation ${n}: ${
            Object.entries(extra)
              .map(([p, k]) => `${p} +${k}`)
              .join(', ') || 'as is'
          }`,
        ),
    });
    const extraCostMicros = Object.entries(plan.extra).reduce((a, [id, k]) => {
      const cost = poolCostModel(pools.find((p) => p.id === id)!);
      return a + (cost.kind === 'gpu-hour' ? Math.round(((k * cost.pricePerGpuHour * plan.summary.windowS) / 3_600) * 1e6) : 0);
    }, 0);
    return { ...base, capacity: { ...plan, extraCostMicros } };
  });
}
