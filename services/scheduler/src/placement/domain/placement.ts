import type { PoolSpec } from '@switchyard/config';
import { candidate, type Candidate, type TierName } from '@switchyard/contracts';
import type { PolicyName, SchedulingConfig } from '../../config.js';
import type { Outstanding } from './load-tracker.js';
import type { PoolState } from './pool-state.js';
import type { PrefixHit } from './prefix-index.js';
import { predict, type Prediction, type StepModel } from './scoring.js';

export type Placement =
  | {
      readonly kind: 'placed';
      readonly pool: string;
      /** The pool's worker expected to hold the prompt's prefix, for the batcher to hand it to; '' for any. */
      readonly worker: string;
      /** Prompt tokens that worker is expected to read from its cache. */
      readonly hitTokens: number;
      readonly candidates: Candidate[];
      readonly reason: string;
      readonly prediction?: Prediction;
    }
  | {
      readonly kind: 'wait';
      /** `health`: no pool is up (bounded by the scheduler's wait); `capacity`: a `wait` tier holds out for idle capacity. */
      readonly waitFor: 'health' | 'capacity';
      readonly reason: string;
      readonly candidates: Candidate[];
      readonly retryAfterMs: number;
    }
  | { readonly kind: 'reject'; readonly reason: string; readonly retryAfterMs: number; readonly candidates: Candidate[] };

export interface PlacementRequest {
  readonly tenant: string;
  readonly tier: TierName;
  /** The model version to place (already resolved from the route). */
  readonly version: string;
  /** Instead of `version`: any pool running this model id, whatever its version (failover). */
  readonly anyVersionOf?: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** Real ms since admission. */
  readonly ageMs: number;
  /** Re-placement of a request that was already accepted (failover): never shed, never wait. */
  readonly mustPlace?: boolean;
  /** The prompt's prefix identity (chained block hashes), to find where it is cached. */
  readonly prefix?: { readonly hashes: readonly number[]; readonly blockTokens: number };
}

export interface FleetView {
  readonly pools: readonly PoolSpec[];
  readonly models: ReadonlyMap<string, StepModel>;
  readonly states: ReadonlyMap<string, PoolState>;
  readonly outstanding: (pool: string) => Outstanding;
  /** Prefill work ahead on a pool now, GPU ms. Default none. */
  readonly prefillBacklogMs?: (pool: string) => number;
  /** Pools an operator drained. */
  readonly drained: ReadonlySet<string>;
  /** Pools to leave out (the one a request is moving away from). */
  readonly exclude?: ReadonlySet<string>;
  /**
   * Per pool, the worker holding the longest run of these leading prompt blocks among those
   * that could take a request now. Default: nothing is known to be cached.
   */
  readonly prefixHits?: (hashes: readonly number[]) => ReadonlyMap<string, PrefixHit>;
}

export interface PlacementContext {
  readonly config: SchedulingConfig;
  readonly policy: PolicyName;
  /** Uniform [0, 1) draws (random policy, power-of-two choices). */
  readonly random: () => number;
  /** The next round-robin turn for a key. */
  readonly turn: (key: string) => number;
}

/** The version a pool serves, as routes name it. */
export const poolVersion = (p: PoolSpec): string => p.version ?? p.model;

/**
 * Pools examined per decision in a large fleet. Predicting every pool costs ~1.5 us each, so
 * at 1,000 pools the Switchyard policy examines a random sample of this many (the power of
 * d choices: a few dozen random candidates find a near-best pool with high probability), and
 * the whole set only when the sample holds no eligible pool.
 */
export const SAMPLE_SIZE = 16;

/** Policies that look for the prompt's prefix in the workers' caches (and name the worker). */
const PREFIX_AWARE: ReadonlySet<PolicyName> = new Set(['switchyard', 'prefix-affinity']);
/** Policies that predict and score (the rest pick without predicting). */
const SCORING: ReadonlySet<PolicyName> = new Set(['switchyard', 'switchyard-no-prefix']);

/** Pools per version and model id, computed once per pools list (it changes only on reload). */
const indexes = new WeakMap<readonly PoolSpec[], { byVersion: Map<string, PoolSpec[]>; byModel: Map<string, PoolSpec[]> }>();

function serving(pools: readonly PoolSpec[], r: PlacementRequest): readonly PoolSpec[] {
  let index = indexes.get(pools);
  if (!index) {
    index = { byVersion: new Map(), byModel: new Map() };
    for (const p of pools) {
      index.byVersion.set(poolVersion(p), [...(index.byVersion.get(poolVersion(p)) ?? []), p]);
      index.byModel.set(p.model, [...(index.byModel.get(p.model) ?? []), p]);
    }
    indexes.set(pools, index);
  }
  return (r.anyVersionOf ? index.byModel.get(r.anyVersionOf) : index.byVersion.get(r.version)) ?? [];
}

/** `k` distinct pools drawn uniformly; k is far below the fleet size, so redraws are rare. */
function sample(pools: readonly PoolSpec[], k: number, random: () => number): PoolSpec[] {
  const chosen = new Set<number>();
  while (chosen.size < k) chosen.add(Math.floor(random() * pools.length));
  return [...chosen].map((i) => pools[i]!);
}

/** Hops after the decision (dispatch, batcher wait, batch pull), real ms. */
const HOPS_MS = 15;
/** Candidates within this score of the best take part in the power-of-two draw. */
const NEAR_BEST = 0.1;
const RESERVED_BONUS = 0.5;
/** Share of the objective left over that counts as comfortable. */
const COMFORT = 0.5;

/** Why a pool cannot take the request, or undefined when it can. */
function excluded(p: PoolSpec, r: PlacementRequest, fleet: FleetView, config: SchedulingConfig): string | undefined {
  const tier = config.tiers[r.tier];
  if (!p.tiers.includes(r.tier) || (tier.pools && !tier.pools.includes(p.id))) return `tier ${r.tier} not allowed`;
  if (tier.capacityClasses && !tier.capacityClasses.includes(p.capacityClass)) return `tier ${r.tier} may not use ${p.capacityClass} capacity`;
  if (p.reservedFor && !p.reservedFor.includes(r.tenant) && r.tier !== 'batch') return 'reserved for other tenants';
  const regions = config.tenants[r.tenant]?.regions;
  if (regions && !regions.includes(p.region)) return `region ${p.region} outside the tenant's residency (${regions.join(', ')})`;
  if (fleet.drained.has(p.id)) return 'drained by an operator';
  if (fleet.exclude?.has(p.id)) return 'being failed over';
  if (!fleet.states.get(p.id)?.healthyWorkers) return 'no healthy worker';
  return undefined;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const explain = (p: Prediction, hit: PrefixHit | undefined) =>
  `ttft ${Math.round(p.ttftMs)} ms (queue ${Math.round(p.queueMs)}, prefill ahead ${Math.round(p.prefillAheadMs)}), $${p.costPer1k.toFixed(4)}/1k tok, util ${pct(p.utilization)}` +
  (hit && p.cachedTokens > 0 ? `, prefix hit ${hit.blocks} blocks (${p.cachedTokens} tokens) on ${hit.worker}` : '');

/** Prompt tokens a hit saves: whole blocks, and never the last prompt token (its logits start the output). */
const hitTokens = (r: PlacementRequest, hit: PrefixHit | undefined) =>
  hit && r.prefix ? Math.min(hit.blocks, Math.floor((r.promptTokens - 1) / r.prefix.blockTokens)) * r.prefix.blockTokens : 0;

/**
 * Places a request: filter the pools serving its version (tier, reservation, residency,
 * drain, health), then pick by policy. `switchyard` predicts each pool's TTFT and scores
 * latency headroom against cost (plus a bonus for the tenant's reserved pools), then draws two
 * of the near-best and keeps the better (power of two choices); when no pool meets the tier's
 * objective it sheds, queues or waits as the tier says. Baselines pick without predicting.
 */
export function placeRequest(r: PlacementRequest, fleet: FleetView, ctx: PlacementContext): Placement {
  const all = serving(fleet.pools, r);
  if (SCORING.has(ctx.policy) && all.length > SAMPLE_SIZE) {
    const sampled = decide(r, fleet, ctx, sample(all, SAMPLE_SIZE, ctx.random));
    if (sampled.kind === 'placed') return { ...sampled, reason: `${sampled.reason}; ${SAMPLE_SIZE} of ${all.length} pools sampled` };
  }
  return decide(r, fleet, ctx, all);
}

function decide(r: PlacementRequest, fleet: FleetView, ctx: PlacementContext, serving: readonly PoolSpec[]): Placement {
  const wanted = r.anyVersionOf ?? r.version;
  if (serving.length === 0) {
    const versions = [...new Set(fleet.pools.map(poolVersion))].join(', ');
    return { kind: 'reject', reason: `no pool serves model "${wanted}"; available: ${versions}`, retryAfterMs: 0, candidates: [] };
  }
  const tier = ctx.config.tiers[r.tier];
  const candidates: Candidate[] = [];
  const eligible: Array<{ pool: PoolSpec; prediction: Prediction; score: number; candidate: Candidate }> = [];
  const hits = PREFIX_AWARE.has(ctx.policy) && r.prefix?.hashes.length ? fleet.prefixHits?.(r.prefix.hashes) : undefined;
  for (const pool of serving) {
    const why = excluded(pool, r, fleet, ctx.config);
    if (why) {
      candidates.push(candidate({ id: pool.id, score: 0, reason: why }));
      continue;
    }
    const hit = hits?.get(pool.id);
    const prediction = predict({
      pool,
      model: fleet.models.get(pool.id)!,
      state: fleet.states.get(pool.id)!,
      outstanding: fleet.outstanding(pool.id),
      prefillBacklogMs: fleet.prefillBacklogMs?.(pool.id),
      promptTokens: r.promptTokens,
      cachedTokens: hitTokens(r, hit),
      maxTokens: r.maxTokens,
      tier: r.tier,
      tenant: r.tenant,
      elapsedMs: (r.ageMs + HOPS_MS) * ctx.config.speed,
    });
    const c = candidate({
      id: pool.id,
      score: 0,
      reason: explain(prediction, hit),
      prefixWorker: prediction.cachedTokens > 0 ? hit!.worker : '',
      prefixHitBlocks: prediction.cachedTokens > 0 ? hit!.blocks : 0,
      prefixHitTokens: prediction.cachedTokens,
    });
    candidates.push(c);
    eligible.push({ pool, prediction, score: 0, candidate: c });
  }
  if (eligible.length === 0) {
    // Only missing heartbeats are worth waiting for; configuration and drains will not change in seconds.
    if (candidates.every((c) => c.reason !== 'no healthy worker')) {
      return {
        kind: 'reject',
        reason: `no pool serving "${wanted}" accepts this request: ${candidates.map((c) => `${c.id}: ${c.reason}`).join('; ')}`,
        retryAfterMs: 0,
        candidates,
      };
    }
    return { kind: 'wait', waitFor: 'health', reason: `no healthy pool serves "${wanted}" right now`, candidates, retryAfterMs: 1_000 };
  }

  const placed = (e: (typeof eligible)[number], reason: string): Placement => {
    e.candidate.reason = `chosen: ${e.candidate.reason}`;
    const { prefixWorker: worker, prefixHitTokens: hitTokens } = e.candidate;
    return { kind: 'placed', pool: e.pool.id, worker, hitTokens, candidates, reason, prediction: e.prediction };
  };
  const only = (score: (e: (typeof eligible)[number]) => number) => eligible.forEach((e) => (e.candidate.score = e.score = score(e)));

  switch (ctx.policy) {
    case 'round-robin': {
      only(() => 1 / eligible.length);
      return placed(eligible[ctx.turn(wanted) % eligible.length]!, 'round-robin over eligible pools');
    }
    case 'random': {
      only(() => 1 / eligible.length);
      return placed(eligible[Math.floor(ctx.random() * eligible.length)]!, 'uniformly random eligible pool');
    }
    case 'least-loaded': {
      only((e) => -e.prediction.utilization);
      return placed(
        eligible.reduce((a, b) => (b.score > a.score ? b : a)),
        'least-loaded eligible pool (outstanding / slots)',
      );
    }
    case 'prefix-affinity': {
      // The greedy baseline: the longest cached prefix wins, whatever the load; least loaded among equals.
      only((e) => e.prediction.cachedTokens - e.prediction.utilization / 2);
      return placed(
        eligible.reduce((a, b) => (b.score > a.score ? b : a)),
        'longest cached prefix, then least loaded',
      );
    }
    case 'switchyard':
    case 'switchyard-no-prefix':
      break;
  }

  const slo = tier.ttftMs;
  const idleOnly = tier.onOverload === 'wait' && !r.mustPlace;
  const feasible = (p: Prediction) => (idleOnly ? p.queueMs === 0 : p.ttftMs <= slo);
  const maxCost = Math.max(...eligible.map((e) => e.prediction.costPer1k));
  only((e) => {
    const p = e.prediction;
    if (!feasible(p)) return -p.ttftMs / slo - p.utilization;
    // Starting at once with half the objective left is as good as it gets: past that, faster buys
    // the caller nothing and cost decides. Waiting in a queue is never "comfortable": predictions
    // of queues are the least sure.
    const left = Math.max(0, 1 - p.ttftMs / slo);
    const headroom = p.queueMs > 0 ? left : Math.min(1, left / COMFORT);
    const cheapness = maxCost > 0 ? 1 - p.costPer1k / maxCost : 0;
    const reserved = e.pool.reservedFor?.includes(r.tenant) ? RESERVED_BONUS : 0;
    return tier.latencyWeight * headroom + (1 - tier.latencyWeight) * cheapness + reserved;
  });
  const ok = eligible.filter((e) => feasible(e.prediction)).sort((a, b) => b.score - a.score);
  if (ok.length > 0) {
    const near = ok.filter((e) => e.score >= ok[0]!.score - NEAR_BEST).slice(0, 4);
    const a = near[Math.floor(ctx.random() * near.length)]!;
    const b = near.length > 1 ? near.filter((e) => e !== a)[Math.floor(ctx.random() * (near.length - 1))]! : a;
    const pick = b.score > a.score ? b : a;
    const reserved = pick.pool.reservedFor?.includes(r.tenant) ? ' (tenant reservation)' : '';
    return placed(pick, `best of two among ${near.length} near-best pools meeting the ${r.tier} objective${reserved}`);
  }

  const best = eligible.reduce((a, b) => (b.prediction.ttftMs < a.prediction.ttftMs ? b : a));
  const retryAfterMs = Math.min(30_000, Math.max(tier.retryAfterMs, Math.round(best.prediction.queueMs / ctx.config.speed)));
  const spilled = eligible.some((e) => e.pool.reservedFor?.includes(r.tenant)) ? ' (reservation saturated, spilled over)' : '';
  if (r.mustPlace || tier.onOverload === 'queue') {
    return placed(best, `no pool meets the ${r.tier} objective; queued on the fastest${spilled}`);
  }
  if (tier.onOverload === 'wait') {
    if (r.ageMs < tier.maxWaitMs)
      return { kind: 'wait', waitFor: 'capacity', reason: `waiting for idle capacity (${r.tier} tier)`, candidates, retryAfterMs: Math.max(250, retryAfterMs) };
    return placed(best, `waited ${Math.round(r.ageMs / 1000)} s for idle capacity; queued on the fastest`);
  }
  return {
    kind: 'reject',
    reason: `load shed: no pool can meet the ${r.tier} TTFT objective of ${slo} ms (best ${best.pool.id}: ${Math.round(best.prediction.ttftMs)} ms)`,
    retryAfterMs,
    candidates,
  };
}
