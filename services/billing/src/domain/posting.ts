import { gpuTimeCostMicros, poolCostModel, tokenCostMicros, type CostBasis, type PoolPricing, type PoolSpec } from '@switchyard/config';
import { tierLabel, type BillableUsage } from '@switchyard/contracts';
import { periodOf, priceUsage, selectPriceBook, type PriceCatalog } from '@switchyard/pricing';
import { holdsReservation, type ReservationIndex } from './reservation.js';

/**
 * What billing knows about a pool: who is paid for serving on it, and how much: per GPU-hour
 * (`pricePerGpuHour`) or, for a provider's pool, per token (`tokenPrices`); `poolCostModel`
 * decides which.
 */
export interface PoolCost extends PoolPricing {
  readonly provider: string;
  readonly capacityClass: string;
}

/** One usage event, priced and costed, ready to post. */
export interface UsagePosting {
  readonly usage: BillableUsage;
  readonly tier: string;
  readonly amountMicros: number;
  readonly priceVersion: string;
  readonly priceEffectiveFromMs: number;
  /**
   * Capacity class the usage was priced at: the pool's, except that a reserved pool is
   * `on-demand` for a tenant without a reservation of it; empty when the pool is unknown.
   */
  readonly capacityClass: string;
  /**
   * What serving the usage cost the platform: its GPU time at the pool's GPU-hour price, or
   * its tokens at a provider pool's token prices (the name predates provider pools).
   */
  readonly gpuCostMicros: number;
  /** How `gpuCostMicros` was computed; `gpu-hour` when the pool is unknown (and the cost 0). */
  readonly costBasis: CostBasis;
  /** Provider paid for serving it; empty when the pool is unknown (no cost accrued). */
  readonly provider: string;
}

/** What billing needs of each pool of a pools file, by pool id; the rebuild uses it to cost usage as billing did. */
export function poolCostsOf(pools: readonly PoolSpec[]): Map<string, PoolCost> {
  return new Map(
    pools.map((p) => [
      p.id,
      { id: p.id, provider: p.provider, capacityClass: p.capacityClass, pricePerGpuHour: p.pricePerGpuHour, tokenPrices: p.tokenPrices },
    ]),
  );
}

/** Ledger account ids; the only place they are spelled. */
export const accounts = {
  receivable: (tenant: string) => `tenant:${tenant}:receivable`,
  prepaid: (tenant: string) => `tenant:${tenant}:prepaid`,
  revenue: (model: string) => `platform:revenue:${model}`,
  /**
   * What serving usage on a pool cost: GPU time on GPU-hour pools, tokens on a provider's
   * per-token pool. Kept under its first name; reconciliation and reports rely on it.
   */
  gpuCost: (pool: string) => `platform:gpu_cost:${pool}`,
  /** What the platform owes a provider, for GPU-hours or for tokens alike. */
  gpuPayable: (provider: string) => `platform:gpu_payable:${provider}`,
  cash: () => 'platform:cash',
  /** Revenue of reservation fees (kind `revenue`), per model. */
  reservationRevenue: (model: string) => `platform:reservation_revenue:${model}`,
  /** What provisioned GPUs of a pool cost while no request used them. */
  gpuIdle: (pool: string) => `platform:gpu_idle:${pool}`,
} as const;

export type AccountKind = 'receivable' | 'prepaid' | 'revenue' | 'gpu_cost' | 'gpu_payable' | 'cash' | 'gpu_idle';

/** An account a posting needs, created on first use. */
export interface AccountSpec {
  readonly id: string;
  readonly tenant: string | null;
  readonly kind: AccountKind;
}

/**
 * The capacity class usage is priced at. The reserved rate is a reservation's: only the
 * holder's usage on its reservation's pools during its period gets it; anyone else the
 * scheduler put on a reserved pool pays the on-demand rate.
 */
export function pricedCapacityClass(usage: BillableUsage, pool: PoolCost | undefined, reservations: ReservationIndex): string {
  if (!pool) return '';
  if (pool.capacityClass !== 'reserved') return pool.capacityClass;
  return holdsReservation(reservations, usage.tenant, usage.pool, usage.recordedUnixMs) ? 'reserved' : 'on-demand';
}

/**
 * What serving the usage cost the platform on `pool`, and how it was computed: its GPU time
 * at a GPU-hour pool's price, or its tokens at a per-token pool's prices (whose adapter
 * cannot see GPU time and reports none). Nothing for an unknown pool.
 */
export function servingCost(usage: BillableUsage, pool: PoolCost | undefined): { costMicros: number; costBasis: CostBasis } {
  if (!pool) return { costMicros: 0, costBasis: 'gpu-hour' };
  const model = poolCostModel({ ...pool, id: usage.pool });
  if (model.kind === 'gpu-hour') return { costMicros: gpuTimeCostMicros(model, usage.gpuSeconds), costBasis: model.kind };
  const t = usage.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  return { costMicros: tokenCostMicros(model, t), costBasis: model.kind };
}

/**
 * Prices usage by the price-book version in force when it was recorded, at the capacity
 * class {@link pricedCapacityClass} gives (default: no reservations), and costs it as
 * {@link servingCost} does. Throws for usage that cannot be posted at all.
 */
export function preparePosting(
  usage: BillableUsage,
  catalog: PriceCatalog,
  pools: ReadonlyMap<string, PoolCost>,
  reservations: ReservationIndex = new Map(),
): UsagePosting {
  if (!usage.usageId) throw new Error('usage without a usage id cannot be posted exactly once');
  if (!usage.tenant) throw new Error(`usage ${usage.usageId} names no tenant`);
  if (!Number.isFinite(usage.gpuSeconds) || usage.gpuSeconds < 0) throw new Error(`usage ${usage.usageId} has GPU seconds ${usage.gpuSeconds}`);
  const book = selectPriceBook(catalog, usage.recordedUnixMs);
  const pool = pools.get(usage.pool);
  const capacityClass = pricedCapacityClass(usage, pool, reservations);
  const price = priceUsage(usage, book, { capacityClass });
  const cost = servingCost(usage, pool);
  return {
    usage,
    tier: tierLabel(usage.tier),
    amountMicros: price.amountMicros,
    priceVersion: price.priceVersion,
    priceEffectiveFromMs: book.effectiveFromUnixMs ?? 0,
    capacityClass,
    gpuCostMicros: cost.costMicros,
    costBasis: cost.costBasis,
    provider: pool?.provider ?? '',
  };
}

/** One posting per usage id (the first), ordered by usage id so concurrent batches lock rows in one order. */
export function uniqueByUsageId(postings: readonly UsagePosting[]): UsagePosting[] {
  const seen = new Map<string, UsagePosting>();
  for (const p of postings) if (!seen.has(p.usage.usageId)) seen.set(p.usage.usageId, p);
  return [...seen.values()].sort((a, b) => (a.usage.usageId < b.usage.usageId ? -1 : a.usage.usageId > b.usage.usageId ? 1 : 0));
}

/** Accounts the postings touch, ordered by id. */
export function accountsFor(postings: readonly UsagePosting[]): AccountSpec[] {
  const specs = new Map<string, AccountSpec>();
  const add = (s: AccountSpec) => specs.set(s.id, s);
  for (const p of postings) {
    add({ id: accounts.receivable(p.usage.tenant), tenant: p.usage.tenant, kind: 'receivable' });
    add({ id: accounts.revenue(p.usage.model), tenant: null, kind: 'revenue' });
    if (p.provider && p.gpuCostMicros > 0) {
      add({ id: accounts.gpuCost(p.usage.pool), tenant: null, kind: 'gpu_cost' });
      add({ id: accounts.gpuPayable(p.provider), tenant: null, kind: 'gpu_payable' });
    }
  }
  return [...specs.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The GPU cost accrued for a batch, one per pool: debit its cost, credit its provider. */
export interface GpuAccrual {
  readonly pool: string;
  readonly provider: string;
  readonly costMicros: number;
  readonly gpuSeconds: number;
}

export function gpuAccruals(posted: readonly UsagePosting[]): GpuAccrual[] {
  const byPool = new Map<string, { provider: string; costMicros: number; gpuSeconds: number }>();
  for (const p of posted) {
    if (!p.provider || p.gpuCostMicros <= 0) continue;
    const a = byPool.get(p.usage.pool) ?? { provider: p.provider, costMicros: 0, gpuSeconds: 0 };
    a.costMicros += p.gpuCostMicros;
    a.gpuSeconds += p.usage.gpuSeconds;
    byPool.set(p.usage.pool, a);
  }
  return [...byPool.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pool, a]) => ({ pool, ...a }));
}

/** Spend added to one budget row: the tenant (feature '') or one feature, in one month. */
export interface SpendDelta {
  readonly tenant: string;
  readonly feature: string;
  /** First day of the month, `YYYY-MM-01`. */
  readonly periodStart: string;
  readonly amountMicros: number;
}

const monthStart = (unixMs: number) => `${periodOf(unixMs).period}-01`;

/** Spend per tenant and per tenant feature per month, ordered by key (the lock order). */
export function spendDeltas(posted: readonly { tenant: string; feature: string; recordedUnixMs: number; amountMicros: number }[]): SpendDelta[] {
  const sums = new Map<string, SpendDelta>();
  const add = (tenant: string, feature: string, periodStart: string, amount: number) => {
    const key = `${tenant}\u0000${periodStart}\u0000${feature}`;
    const prev = sums.get(key);
    sums.set(key, { tenant, feature, periodStart, amountMicros: (prev?.amountMicros ?? 0) + amount });
  };
  for (const p of posted) {
    const start = monthStart(p.recordedUnixMs);
    add(p.tenant, '', start, p.amountMicros);
    if (p.feature) add(p.tenant, p.feature, start, p.amountMicros);
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}
