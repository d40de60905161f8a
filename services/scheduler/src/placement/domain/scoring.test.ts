import type { PoolSpec } from '@switchyard/config';
import { testPool } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { NOTHING_OUTSTANDING } from './load-tracker.js';
import type { PoolState } from './pool-state.js';
import { costPer1kTokens, perTokenCostPer1k, predict, type StepModel } from './scoring.js';

/** Roughly an 8B model on an H100: ~8 ms decode steps, ~30 ms per 1k prompt tokens. */
const model: StepModel = { decodeMs: (b, ctx) => 7.5 + 0.03 * b + (0.0005 * b * ctx) / 16, prefillMs: (t) => 6 + 0.025 * t };
const idle: PoolState = {
  healthyWorkers: 1,
  drainingWorkers: 0,
  hungWorkers: 0,
  running: 0,
  waiting: 0,
  freeSlots: 8,
  kvUsed: 0,
  stepMs: 10,
  ttftMs: 50,
  lastBeatUnixMs: 0,
};
const gpu = testPool({ id: 'gpu', slotsPerWorker: 8, pricePerGpuHour: 4 });
const provider = (inputPerMillion: number, outputPerMillion: number): PoolSpec =>
  testPool({ id: 'azure-openai', kind: 'provider', slotsPerWorker: 8, pricePerGpuHour: undefined, tokenPrices: { inputPerMillion, outputPerMillion } });
const costOn = (pool: PoolSpec) =>
  predict({ pool, model, state: idle, outstanding: NOTHING_OUTSTANDING, promptTokens: 500, maxTokens: 100, tier: 'realtime', elapsedMs: 0 }).costPer1k;

describe('cost term', () => {
  it("prices a provider pool's request at its token prices, per 1,000 of its output tokens", () => {
    // (2.50 x 500 prompt + 10.00 x 100 output) / 1e6 = 0.00225 for the request; / 100 x 1,000.
    expect(costOn(provider(2.5, 10))).toBeCloseTo(0.0225, 10);
    expect(perTokenCostPer1k({ kind: 'per-token', inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 }, 500, 0)).toBeCloseTo(
      ((2.5 * 500 + 10) / 1e6) * 1_000,
      10,
    );
  });

  it('compares a provider pool with a GPU pool in the same unit, so the cheaper one wins the cost term', () => {
    // An idle GPU at 4/h spends one ~7.6 ms step per token of this request: about 0.0084 per 1K.
    const onGpu = costOn(gpu);
    expect(onGpu).toBeGreaterThan(0.008);
    expect(onGpu).toBeLessThan(0.009);
    expect(costOn(provider(2.5, 10))).toBeGreaterThan(onGpu);
    expect(costOn(provider(0.05, 0.1))).toBeLessThan(onGpu);
  });

  it('gives a per-token cost for a typical request where no request is at hand', () => {
    expect(costPer1kTokens(provider(2.5, 10), model)).toBeCloseTo(((2.5 * 1_024 + 10 * 200) / 1e6 / 200) * 1_000, 10);
    expect(costPer1kTokens(gpu, model)).toBeGreaterThan(0);
  });
});
