import { Outcome, type BudgetState, type Event, type RequestTerminated, type Tier } from '@switchyard/contracts';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import type { BudgetLedger } from './budget-ledger.js';
import type { RequestStore } from './request-store.js';

export interface SettlementDeps {
  readonly store: RequestStore;
  readonly budgets: BudgetLedger;
  /** Budgets as billing published them: a tenant without any reserved nothing to settle. */
  readonly budgetState: (tenant: string) => BudgetState | undefined;
  readonly priceBookAt: (atMs: number) => PriceBook;
  readonly now: () => number;
}

/** Outcomes whose tokens the tenant pays for: what ran, and what ran until the caller stopped it. */
const BILLED = new Set<Outcome>([Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_CANCELLED, Outcome.OUTCOME_EXPIRED]);

/**
 * What admission does once per terminal event (LIFECYCLE), whoever admitted the request:
 * record the outcome for GetRequest, and settle the budget reservation at the price billing's
 * ledger will charge for what ran, by the model the request resolved to (an alias such as
 * `chat-large` has no price of its own). A platform failure settles at 0.
 */
export function createSettlement(deps: SettlementDeps) {
  /** The ledger's price of the usage; the reserved worst case when the book cannot say. */
  const actualMicros = (t: RequestTerminated, atMs: number, pending: { model: string; tier: number; costMicros: number }): number => {
    if (!BILLED.has(t.outcome) || !t.usage) return 0;
    const book = deps.priceBookAt(atMs);
    const model = t.model || pending.model;
    if (!book.models[model]) return pending.costMicros;
    const tier = (t.tier || pending.tier) as Tier;
    const usage = {
      usageId: '',
      requestId: t.requestId,
      tenant: t.tenant,
      feature: t.feature,
      model,
      tier,
      pool: t.pool,
      usage: t.usage,
      gpuSeconds: 0,
      recordedUnixMs: atMs,
    };
    return priceUsage(usage, book).amountMicros;
  };

  return async function settle(event: Event): Promise<void> {
    if (event.payload?.$case !== 'requestTerminated') return;
    const t = event.payload.requestTerminated;
    const atMs = event.envelope?.timeUnixMs ?? deps.now();
    await deps.store.terminated({ requestId: t.requestId, outcome: t.outcome, usage: t.usage, reason: t.reason, atUnixMs: atMs });
    // Tenants without budgets reserve nothing: skip the Redis lookup on the hot path.
    if (!deps.budgetState(t.tenant)) return;
    const pending = await deps.budgets.pending(t.requestId);
    if (!pending) return;
    await deps.budgets.settle(t.requestId, actualMicros(t, atMs, pending));
  };
}
