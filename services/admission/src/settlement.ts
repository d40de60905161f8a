import type { TenantSettings } from '@switchyard/auth';
import { Outcome, type Event, type Tier } from '@switchyard/contracts';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import type { BudgetLedger } from './budget-ledger.js';
import type { RequestStore } from './request-store.js';

export interface SettlementDeps {
  readonly store: RequestStore;
  readonly budgets: BudgetLedger;
  readonly tenantSettings: (tenant: string) => TenantSettings | undefined;
  readonly priceBook: PriceBook;
  readonly now: () => number;
}

/**
 * What admission does once per terminal event (LIFECYCLE), whoever admitted the request:
 * record the outcome for GetRequest, and settle the budget reservation at the real price of
 * what ran (nothing for a request that did not complete).
 */
export function createSettlement(deps: SettlementDeps) {
  return async function settle(event: Event): Promise<void> {
    if (event.payload?.$case !== 'requestTerminated') return;
    const t = event.payload.requestTerminated;
    await deps.store.terminated({
      requestId: t.requestId,
      outcome: t.outcome,
      usage: t.usage,
      reason: t.reason,
      atUnixMs: event.envelope?.timeUnixMs ?? deps.now(),
    });
    // Tenants without budgets reserve nothing: skip the Redis lookup on the hot path.
    const settings = deps.tenantSettings(t.tenant);
    if (!settings?.budget && Object.keys(settings?.featureBudgets ?? {}).length === 0) return;
    const pending = await deps.budgets.pending(t.requestId);
    if (!pending) return;
    const actual =
      t.outcome === Outcome.OUTCOME_COMPLETED && t.usage
        ? priceUsage(
            {
              usageId: '',
              requestId: t.requestId,
              tenant: t.tenant,
              feature: '',
              model: pending.model,
              tier: pending.tier as Tier,
              pool: t.pool,
              usage: t.usage,
              gpuSeconds: 0,
              recordedUnixMs: 0,
            },
            deps.priceBook,
          ).amountMicros
        : 0;
    await deps.budgets.settle(t.requestId, actual);
  };
}
