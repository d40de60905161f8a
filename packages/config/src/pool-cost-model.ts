import type { PoolSpec } from './pools.js';

/**
 * How a pool costs the platform. `gpu-hour`: its GPUs are paid by the hour whether busy or
 * idle (simulated and self-hosted pools). `per-token`: a provider charges per token served
 * and nothing while idle (provider pools). Prices per million tokens are in currency units,
 * which is the same number as micros per token.
 */
export type PoolCostModel =
  | { readonly kind: 'gpu-hour'; readonly pricePerGpuHour: number }
  | { readonly kind: 'per-token'; readonly inputPerMillion: number; readonly cachedInputPerMillion: number; readonly outputPerMillion: number };

export type CostBasis = PoolCostModel['kind'];

/** What a pool's cost depends on; pools built in code may carry only these. */
export type PoolPricing = Partial<Pick<PoolSpec, 'id' | 'pricePerGpuHour' | 'tokenPrices'>>;

/**
 * The one place that decides how a pool is costed: per token when it has `tokenPrices`
 * (cached input at the input price unless set), else per GPU-hour. A validated pools file
 * gives every pool exactly one of the two; a pool built in code with neither is a bug, so
 * it throws rather than cost the pool nothing.
 */
export function poolCostModel(pool: PoolPricing): PoolCostModel {
  const t = pool.tokenPrices;
  if (t)
    return {
      kind: 'per-token',
      inputPerMillion: t.inputPerMillion,
      cachedInputPerMillion: t.cachedInputPerMillion ?? t.inputPerMillion,
      outputPerMillion: t.outputPerMillion,
    };
  if (pool.pricePerGpuHour !== undefined) return { kind: 'gpu-hour', pricePerGpuHour: pool.pricePerGpuHour };
  throw new Error(`pool ${pool.id ?? '(unnamed)'} has neither pricePerGpuHour nor tokenPrices, so its cost is unknown`);
}

/** Tokens of one usage event, as metering counts them (cached input is part of input). */
export interface TokenCounts {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
}

/**
 * What the tokens cost on a per-token pool, in whole micros: uncached input, cached input and
 * output each at their price, rounded once so the sum does not depend on how it is split.
 */
export function tokenCostMicros(model: Extract<PoolCostModel, { kind: 'per-token' }>, t: TokenCounts): number {
  const cached = Math.min(Math.max(0, t.cachedInputTokens), t.inputTokens);
  return Math.round((t.inputTokens - cached) * model.inputPerMillion + cached * model.cachedInputPerMillion + t.outputTokens * model.outputPerMillion);
}

/** What `gpuSeconds` cost on a GPU-hour pool, in whole micros. */
export function gpuTimeCostMicros(model: Extract<PoolCostModel, { kind: 'gpu-hour' }>, gpuSeconds: number): number {
  return Math.round((gpuSeconds * model.pricePerGpuHour * 1e6) / 3600);
}
