import type { TierName } from '@switchyard/contracts';
import type { ForecastSummary } from './summary.js';

const TIERS = ['realtime', 'internal', 'batch'] as const;

export interface CapacityOptions {
  /** Pools GPUs may be added to (GPU-hour pools serving the forecast's model). */
  readonly pools: readonly string[];
  /** Attainment each tier must reach, 0..1. */
  readonly target: number;
  /** Most GPUs added, all pools together. Default 64. */
  readonly maxExtra?: number;
  /** Most simulations run, the first included. Default 200. */
  readonly maxSimulations?: number;
  /** Runs the forecast with these extra workers per pool. */
  readonly evaluate: (extra: Readonly<Record<string, number>>) => ForecastSummary;
  /** Told before each simulation (a progress line). */
  readonly onSimulation?: (n: number, extra: Readonly<Record<string, number>>) => void;
}

export interface CapacityPlan {
  /** Every tier reached the target with `extra`. */
  readonly met: boolean;
  /** Why the search stopped short, when it did. */
  readonly stoppedBecause?: string;
  /** Extra GPUs per pool (pools given none left out). */
  readonly extra: Readonly<Record<string, number>>;
  readonly summary: ForecastSummary;
  readonly simulations: number;
}

/** How far the worst tier is from the target (negative: short of it). */
export const worstShortfall = (s: ForecastSummary, target: number) => Math.min(...TIERS.map((t) => s.tiers[t].attainment - target));
/** Attainment of every tier, shortfalls only, summed: the tie-break between additions helping the worst tier equally. */
const totalShortfall = (s: ForecastSummary, target: number) => TIERS.reduce((a, t: TierName) => a + Math.min(0, s.tiers[t].attainment - target), 0);

/**
 * The smallest number of extra GPUs, and where, that brings every tier to the target, found
 * greedily: from the fleet as it is, try one more worker on each pool, keep the addition that
 * lifts the worst tier most (then the one closing most of the total shortfall, then the cheaper
 * fleet), and repeat. Greedy is not optimal in general, but each pool's attainment curve is
 * monotone in its workers here and the pools are few, so it finds the minimum count in practice
 * at a cost of one simulation per pool per GPU added.
 */
export function planCapacity(o: CapacityOptions): CapacityPlan {
  const maxExtra = o.maxExtra ?? 64;
  const maxSimulations = o.maxSimulations ?? 200;
  let simulations = 0;
  const run = (extra: Record<string, number>) => {
    o.onSimulation?.(++simulations, extra);
    return o.evaluate(extra);
  };
  let extra: Record<string, number> = {};
  let summary = run(extra);
  const added = () => Object.values(extra).reduce((a, b) => a + b, 0);
  while (worstShortfall(summary, o.target) < 0) {
    if (o.pools.length === 0) return { met: false, stoppedBecause: 'no pool serving the model can take more GPUs', extra, summary, simulations };
    if (added() >= maxExtra) return { met: false, stoppedBecause: `${maxExtra} extra GPUs were not enough (--max-extra)`, extra, summary, simulations };
    if (simulations + o.pools.length > maxSimulations)
      return { met: false, stoppedBecause: `the search ran ${simulations} simulations, the most allowed (--max-simulations)`, extra, summary, simulations };
    let best: { extra: Record<string, number>; summary: ForecastSummary } | undefined;
    for (const pool of o.pools) {
      const tryExtra = { ...extra, [pool]: (extra[pool] ?? 0) + 1 };
      const s = run(tryExtra);
      if (!best || better(s, best.summary, o.target)) best = { extra: tryExtra, summary: s };
    }
    extra = best!.extra;
    summary = best!.summary;
  }
  return { met: true, extra, summary, simulations };
}

function better(a: ForecastSummary, b: ForecastSummary, target: number): boolean {
  const EPS = 1e-9;
  const dw = worstShortfall(a, target) - worstShortfall(b, target);
  if (Math.abs(dw) > EPS) return dw > 0;
  const dt = totalShortfall(a, target) - totalShortfall(b, target);
  if (Math.abs(dt) > EPS) return dt > 0;
  return a.gpuCostMicros < b.gpuCostMicros;
}
