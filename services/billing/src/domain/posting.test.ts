import { Tier, type BillableUsage } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, type PriceBook } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import { accountsFor, gpuAccruals, preparePosting, spendDeltas, uniqueByUsageId, type PoolCost } from './posting.js';
import { indexReservations, type Reservation } from './reservation.js';

const pools = new Map<string, PoolCost>([['p', { provider: 'aws', capacityClass: 'reserved', pricePerGpuHour: 3.6 }]]);
const usage = (over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId: 'u1',
  requestId: 'r1',
  tenant: 'acme',
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'p',
  usage: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 1000 },
  gpuSeconds: 2,
  recordedUnixMs: Date.UTC(2030, 5, 30, 23, 59),
  ...over,
});

const reservation: Reservation = {
  id: 'res-1',
  tenant: 'acme',
  pools: ['p'],
  model: 'llama-3.1-8b',
  gpus: 1,
  startMs: Date.UTC(2030, 5, 1),
  endMs: Date.UTC(2030, 6, 1),
  feePerGpuHourMicros: 4_500_000,
  priceVersion: 'v1',
};
const held = indexReservations([reservation]);

describe('preparePosting', () => {
  it('gives the reserved rate only to the holder, on its pools, during its period; others pay on demand', () => {
    expect(preparePosting(usage(), [DEFAULT_PRICE_BOOK], pools, held)).toMatchObject({ capacityClass: 'reserved', amountMicros: 320 });
    for (const other of [
      usage({ tenant: 'globex' }),
      usage({ recordedUnixMs: Date.UTC(2030, 6, 1) }),
      usage({ recordedUnixMs: Date.UTC(2030, 4, 31, 23, 59) }),
    ]) {
      expect(preparePosting(other, [DEFAULT_PRICE_BOOK], pools, held)).toMatchObject({ capacityClass: 'on-demand', amountMicros: 800 });
    }
    expect(preparePosting(usage(), [DEFAULT_PRICE_BOOK], pools)).toMatchObject({ capacityClass: 'on-demand', amountMicros: 800 });
  });

  it('prices by the version in force at the recorded time, on the pool capacity, and costs the GPU time', () => {
    const later: PriceBook = { ...DEFAULT_PRICE_BOOK, version: 'v9', effectiveFromUnixMs: Date.UTC(2030, 6, 1) };
    const p = preparePosting(usage(), [DEFAULT_PRICE_BOOK, later], pools, held);
    expect(p).toMatchObject({
      priceVersion: 'v1',
      priceEffectiveFromMs: 0,
      capacityClass: 'reserved',
      gpuCostMicros: 2_000,
      provider: 'aws',
      tier: 'realtime',
    });
    expect(p.amountMicros).toBe(Math.round(800 * 0.4));
    expect(preparePosting(usage({ recordedUnixMs: Date.UTC(2030, 6, 1) }), [DEFAULT_PRICE_BOOK, later], pools).priceVersion).toBe('v9');
  });

  it('accrues no GPU cost on a pool it does not know, and refuses usage it cannot post once', () => {
    expect(preparePosting(usage({ pool: 'elsewhere' }), [DEFAULT_PRICE_BOOK], pools)).toMatchObject({ gpuCostMicros: 0, provider: '', capacityClass: '' });
    expect(() => preparePosting(usage({ usageId: '' }), [DEFAULT_PRICE_BOOK], pools)).toThrow(/usage id/);
    expect(() => preparePosting(usage({ model: 'gpt-x' }), [DEFAULT_PRICE_BOOK], pools)).toThrow(/no price for model/);
  });
});

describe('serving cost on a per-token pool', () => {
  // A provider's deployment: 2.50 per million input tokens, 1.25 cached, 10.00 output (micros per token).
  const withProvider = new Map<string, PoolCost>([
    ...pools,
    ['azure-oai', { provider: 'azure', capacityClass: 'on-demand', tokenPrices: { inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 } }],
  ]);
  const spilled = usage({ usageId: 'u-spill', pool: 'azure-oai', gpuSeconds: 0, usage: { inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 333 } });

  it('costs the tokens at the provider prices, cached input at the cached price, rounded once', () => {
    // 600 x 2.5 + 400 x 1.25 + 333 x 10 = 1500 + 500 + 3330 micros; the adapter reports no GPU time.
    expect(preparePosting(spilled, [DEFAULT_PRICE_BOOK], withProvider, held)).toMatchObject({
      gpuCostMicros: 5_330,
      costBasis: 'per-token',
      provider: 'azure',
      capacityClass: 'on-demand',
    });
    const odd = usage({ pool: 'azure-oai', gpuSeconds: 0, usage: { inputTokens: 1, cachedInputTokens: 1, outputTokens: 0 } });
    expect(preparePosting(odd, [DEFAULT_PRICE_BOOK], withProvider).gpuCostMicros).toBe(1);
  });

  it("charges the tenant from the price book as on any pool, and keeps the GPU pool's cost per GPU-hour", () => {
    const onProvider = preparePosting(usage({ pool: 'azure-oai', gpuSeconds: 0 }), [DEFAULT_PRICE_BOOK], withProvider, held);
    const onGpu = preparePosting(usage(), [DEFAULT_PRICE_BOOK], withProvider, held);
    expect(onProvider.amountMicros).toBe(800);
    expect(onGpu).toMatchObject({ amountMicros: 320, gpuCostMicros: 2_000, costBasis: 'gpu-hour' });
  });

  it('accrues the token cost to the pool and its provider although no GPU time was reported', () => {
    const posting = preparePosting(spilled, [DEFAULT_PRICE_BOOK], withProvider);
    expect(accountsFor([posting]).map((s) => s.id)).toEqual([
      'platform:gpu_cost:azure-oai',
      'platform:gpu_payable:azure',
      'platform:revenue:llama-3.1-8b',
      'tenant:acme:receivable',
    ]);
    expect(gpuAccruals([posting])).toEqual([{ pool: 'azure-oai', provider: 'azure', costMicros: 5_330, gpuSeconds: 0 }]);
  });
});

describe('batch shaping', () => {
  const a = preparePosting(usage({ usageId: 'b' }), [DEFAULT_PRICE_BOOK], pools);
  const b = preparePosting(usage({ usageId: 'a', feature: '' }), [DEFAULT_PRICE_BOOK], pools);
  const c = preparePosting(usage({ usageId: 'c', pool: 'elsewhere', tenant: 'zeta' }), [DEFAULT_PRICE_BOOK], pools);

  it('keeps one posting per usage id in usage-id order (the lock order)', () => {
    expect(uniqueByUsageId([a, b, a]).map((p) => p.usage.usageId)).toEqual(['a', 'b']);
  });

  it('names the accounts in id order and accrues GPU cost per pool', () => {
    expect(accountsFor([a, c]).map((s) => s.id)).toEqual([
      'platform:gpu_cost:p',
      'platform:gpu_payable:aws',
      'platform:revenue:llama-3.1-8b',
      'tenant:acme:receivable',
      'tenant:zeta:receivable',
    ]);
    expect(gpuAccruals([a, b, c])).toEqual([{ pool: 'p', provider: 'aws', costMicros: 4_000, gpuSeconds: 4 }]);
  });

  it('adds spend to the tenant row and the feature row of the month', () => {
    const deltas = spendDeltas(
      [a, b].map((p) => ({ tenant: p.usage.tenant, feature: p.usage.feature, recordedUnixMs: p.usage.recordedUnixMs, amountMicros: 10 })),
    );
    expect(deltas).toEqual([
      { tenant: 'acme', feature: '', periodStart: '2030-06-01', amountMicros: 20 },
      { tenant: 'acme', feature: 'chat', periodStart: '2030-06-01', amountMicros: 10 },
    ]);
  });
});
