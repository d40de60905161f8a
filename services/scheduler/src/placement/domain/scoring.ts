import { poolCostModel, poolKind, type PoolCostModel, type PoolSpec } from '@switchyard/config';
import { TIER_RANK as RANK, type TierName } from '@switchyard/contracts';
import type { Outstanding } from './load-tracker.js';
import type { PoolState } from './pool-state.js';

/** The part of the simulator's performance model (one model on one GPU) the scheduler uses. */
export interface StepModel {
  decodeMs(batch: number, context: number): number;
  prefillMs(tokens: number): number;
  /** Extra prefill time of a chunk after `context` cached tokens (see the perf model); 0 when absent. */
  chunkContextMs?(context: number, tokens: number): number;
}

/** What placing one request on one pool is predicted to give. */
export interface Prediction {
  /** Time to first token as the caller will see it, simulated ms (time already spent included). */
  readonly ttftMs: number;
  /** Wait for a free slot, behind work of the same or a higher tier. */
  readonly queueMs: number;
  /** Wait for the prompts dispatched before this one to be prefilled. */
  readonly prefillAheadMs: number;
  /** Prefill of this prompt (past its cached prefix) plus its first decode step. */
  readonly serviceMs: number;
  /** Prompt tokens expected from a worker's prefix cache. */
  readonly cachedTokens: number;
  /** Requests outstanding over slots, 0.. (above 1: a queue). */
  readonly utilization: number;
  /**
   * What 1,000 of this request's output tokens cost the platform, in the price's currency. On
   * a GPU-hour pool: its share of each step at the batch it joins (a step costs about the same
   * at batch 1 as at batch 16, so joining a running batch is cheap and lighting up an idle GPU
   * is not), plus the GPU time of prefilling its prompt past any cached prefix, spread over its
   * output tokens (so a pool whose worker holds the prefix is cheaper). On a per-token pool:
   * what the provider charges for the request, spread over its output tokens (see
   * {@link perTokenCostPer1k}).
   */
  readonly costPer1k: number;
}

export interface PredictInput {
  readonly pool: PoolSpec;
  readonly model: StepModel;
  readonly state: PoolState;
  readonly outstanding: Outstanding;
  /** Prefill work dispatched to the pool that its workers have not got through, GPU ms. */
  readonly prefillBacklogMs?: number;
  readonly promptTokens: number;
  /** Of them, expected from a worker's prefix cache. Default 0. */
  readonly cachedTokens?: number;
  readonly maxTokens: number;
  readonly tier: TierName;
  /** Whose request it is: the batcher serves a tier's tenants in turns. Default '' (as the tracker counts requests without one). */
  readonly tenant?: string;
  /** Simulated ms since the request was admitted, plus hops still to come. */
  readonly elapsedMs: number;
}

/** Mean cached context assumed when nothing better is known (conv-style prompts). */
const TYPICAL_CONTEXT = 1_024;
const TYPICAL_OUTPUT = 200;

/** Step time of a worker running a full batch, simulated ms. */
export function saturatedStepMs(pool: PoolSpec, model: StepModel, context = TYPICAL_CONTEXT): number {
  return model.decodeMs(pool.slotsPerWorker, context);
}

/**
 * A provider's charge for one request per 1,000 of its output tokens:
 * `(inputPerMillion x promptTokens + outputPerMillion x outputTokens) / 1e6 / outputTokens x 1,000`.
 * The whole prompt is priced as uncached input, since whether the provider's cache holds it
 * is unknown here; that errs dear, so spilling to a provider is never made to look cheaper
 * than it is. The prompt is included because a provider bills it; a GPU pool's estimate leaves
 * its prefill out, so the comparison leans a little towards the platform's own GPUs, which is
 * where reserved-then-spillover wants work to go first anyway.
 */
export function perTokenCostPer1k(cost: Extract<PoolCostModel, { kind: 'per-token' }>, promptTokens: number, outputTokens: number): number {
  const out = Math.max(1, outputTokens);
  return ((cost.inputPerMillion * Math.max(0, promptTokens) + cost.outputPerMillion * out) / 1e6 / out) * 1_000;
}

/**
 * Cost of 1,000 output tokens on this pool at a full batch; on a per-token pool, of a request
 * of the typical shape (conv-style prompt, typical output).
 */
export function costPer1kTokens(pool: PoolSpec, model: StepModel): number {
  const cost = poolCostModel(pool);
  if (cost.kind === 'per-token') return perTokenCostPer1k(cost, TYPICAL_CONTEXT, TYPICAL_OUTPUT);
  const tokensPerMs = pool.slotsPerWorker / saturatedStepMs(pool, model);
  return (cost.pricePerGpuHour / 3_600_000 / tokensPerMs) * 1_000;
}

/**
 * Requests of `tier` that start before a new one of `tenant`. The batcher serves a tier's
 * tenants in turns, which shares the slots among them max-min fairly: a tenant's requests are
 * taken as running up to its fair share of `slots` (one that uses less leaves the rest to the
 * others) and as queued past it. Ahead of the new request: every running one, the tenant's own
 * queued ones, and of each other tenant's queued ones as many as the tenant's own plus one.
 * With one tenant that is every outstanding request of the tier.
 */
function sameTierAhead(out: Outstanding, tier: TierName, tenant: string, slots: number): number {
  const counts = [...out.byTenant]
    .map(([t, n]) => ({ tenant: t, n: n[tier] }))
    .filter((c) => c.n > 0)
    .sort((a, b) => a.n - b.n);
  let free = slots;
  const queued = new Map<string, number>();
  counts.forEach((c, i) => {
    const running = Math.min(c.n, free / (counts.length - i));
    queued.set(c.tenant, c.n - running);
    free -= running;
  });
  const mine = queued.get(tenant) ?? 0;
  let ahead = slots - free + mine;
  for (const [other, q] of queued) if (other !== tenant) ahead += Math.min(q, mine + 1);
  return ahead;
}

/**
 * Predicts a request's time to first token on a pool from live state and the performance
 * model. The batcher serves realtime before internal before batch, and the tenants of a tier
 * in turns, so a request waits only behind outstanding work of a higher tier and its turn
 * among its own tier's (see {@link sameTierAhead}), plus lower-tier work already holding
 * slots. Once every slot is held it waits for completions: each worker finishes one request
 * every `meanOutput x fullStep / slots + prefill(meanPrompt)` ms. Engines prefill first come,
 * first served, so the prompts dispatched just before it (the pool's prefill backlog) come
 * before its own prefill too. A real engine's queue that the scheduler did not fill is ahead of
 * any tier.
 */
export function predict(input: PredictInput): Prediction {
  const { pool, model, state, outstanding: out } = input;
  const slotsPerWorker = pool.slotsPerWorker;
  const slots = Math.max(1, state.healthyWorkers * slotsPerWorker);
  const occupied = Math.max(out.total, state.running + state.waiting);
  const rank = RANK[input.tier];
  const higher = (Object.keys(RANK) as TierName[]).filter((t) => RANK[t] < rank).reduce((a, t) => a + out.byTier[t], 0);
  const aheadOrSame = higher + sameTierAhead(out, input.tier, input.tenant ?? '', slots);
  const lower = Math.max(0, occupied - higher - out.byTier[input.tier]);
  // A real engine's own queue beyond what was dispatched here is other clients' work (or ours,
  // already inside it): first come, first served there, so ahead of any tier.
  const foreign = poolKind(pool) === 'simulated' ? 0 : Math.max(0, state.waiting - out.total);
  const ahead = aheadOrSame + Math.min(lower, slots) + foreign;

  const meanPrompt = out.total > 0 ? out.promptTokens / out.total : input.promptTokens;
  const meanOutput = out.total > 0 ? out.outputTokens / out.total : Math.max(input.maxTokens, TYPICAL_OUTPUT);
  const context = meanPrompt + meanOutput / 2;
  const perRequestMs = (meanOutput * saturatedStepMs(pool, model, context)) / slotsPerWorker + model.prefillMs(meanPrompt);
  const completionsPerMs = Math.max(1, state.healthyWorkers) / perRequestMs;
  const queued = ahead - slots + 1;
  const queueMs = queued > 0 ? queued / completionsPerMs : 0;

  const runningPerWorker = Math.min(slotsPerWorker, Math.ceil(Math.min(occupied, slots) / Math.max(1, state.healthyWorkers)) + 1);
  // Prefill shares each step with the running decodes, chunk by chunk; a cached prefix is not
  // prefilled, but the rest attends to it.
  const cachedTokens = Math.max(0, Math.min(input.cachedTokens ?? 0, input.promptTokens - 1));
  const uncached = Math.max(1, input.promptTokens - cachedTokens);
  const prefillMs = model.prefillMs(uncached) + (model.chunkContextMs?.(cachedTokens, uncached) ?? 0);
  const serviceMs = prefillMs + model.decodeMs(runningPerWorker, context);
  const prefillAheadMs = (input.prefillBacklogMs ?? 0) / Math.max(1, state.healthyWorkers);
  const batch = queued > 0 ? slotsPerWorker : runningPerWorker;
  const cost = poolCostModel(pool);
  const outputTokens = input.maxTokens > 0 ? input.maxTokens : TYPICAL_OUTPUT;
  const costPer1k =
    cost.kind === 'per-token'
      ? perTokenCostPer1k(cost, input.promptTokens, outputTokens)
      : (cost.pricePerGpuHour / 3_600_000) * (model.decodeMs(batch, context) / batch + prefillMs / outputTokens) * 1_000;
  return {
    ttftMs: input.elapsedMs + queueMs + prefillAheadMs + serviceMs,
    queueMs,
    prefillAheadMs,
    serviceMs,
    cachedTokens,
    utilization: occupied / slots,
    costPer1k,
  };
}
