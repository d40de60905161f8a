import { describe, expect, it } from 'vitest';
import { gpuTimeCostMicros, poolCostModel, tokenCostMicros } from './pool-cost-model.js';

describe('poolCostModel', () => {
  it('costs a pool with token prices per token, cached input at the input price unless set', () => {
    expect(poolCostModel({ id: 'p', tokenPrices: { inputPerMillion: 2.5, outputPerMillion: 10 } })).toEqual({
      kind: 'per-token',
      inputPerMillion: 2.5,
      cachedInputPerMillion: 2.5,
      outputPerMillion: 10,
    });
    expect(poolCostModel({ tokenPrices: { inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 } })).toMatchObject({
      cachedInputPerMillion: 1.25,
    });
  });

  it('costs any other pool per GPU-hour, and names a pool that has no price at all', () => {
    expect(poolCostModel({ id: 'p', pricePerGpuHour: 4.1 })).toEqual({ kind: 'gpu-hour', pricePerGpuHour: 4.1 });
    expect(() => poolCostModel({ id: 'nameless-price' })).toThrow(/pool nameless-price has neither pricePerGpuHour nor tokenPrices/);
  });
});

describe('serving cost', () => {
  const perToken = { kind: 'per-token', inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 } as const;

  it('prices uncached input, cached input and output each at their price, rounded once to micros', () => {
    // 800 uncached x 2.5 + 200 cached x 1.25 + 300 output x 10 micros = 2000 + 250 + 3000.
    expect(tokenCostMicros(perToken, { inputTokens: 1_000, cachedInputTokens: 200, outputTokens: 300 })).toBe(5_250);
    // Three tokens at 0.3 micros cost 0.9 -> 1 micro; rounding token by token would give 0.
    expect(
      tokenCostMicros(
        { ...perToken, inputPerMillion: 0.3, cachedInputPerMillion: 0.3, outputPerMillion: 0 },
        { inputTokens: 3, cachedInputTokens: 0, outputTokens: 0 },
      ),
    ).toBe(1);
  });

  it('never counts more cached tokens than input tokens', () => {
    expect(tokenCostMicros(perToken, { inputTokens: 100, cachedInputTokens: 500, outputTokens: 0 })).toBe(125);
  });

  it('prices GPU time by the hour', () => {
    expect(gpuTimeCostMicros({ kind: 'gpu-hour', pricePerGpuHour: 3.6 }, 2)).toBe(2_000);
  });
});
