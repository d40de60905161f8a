import type { BudgetScope, BudgetState } from '@switchyard/contracts';
import { periodOf } from '@switchyard/pricing';

/**
 * A monthly budget to reserve against. Billing owns the limits and the month's spend in its
 * ledger (`floorMicros`, as of `floorAsOfMs`); admission adds what is in flight and what it
 * settled that the ledger may not show yet. `hardLimitMicros` -1 means no hard limit.
 */
export interface BudgetSpec {
  /** The feature the budget is of; '' for the tenant-wide one. */
  readonly feature: string;
  readonly key: string;
  readonly label: string;
  readonly hardLimitMicros: number;
  /** The ledger's spend of this budget this month, from the latest state billing published. */
  readonly floorMicros: number;
  /** When billing read that spend (Unix ms); 0 when there is no state of this month. */
  readonly floorAsOfMs: number;
}

export interface BudgetPlan {
  readonly specs: BudgetSpec[];
  /** Soft limits, by the same index as `specs`, for the warning after a reservation. */
  readonly softLimits: (number | undefined)[];
}

/** Calendar month (UTC) a budget counts against, e.g. `2026-11`. */
export const monthOf = (nowMs: number): string => periodOf(nowMs).period;

/** Redis key of a budget's in-flight and provisional amounts this month; one owner: here. */
export const budgetKey = (tenant: string, feature: string, month: string): string =>
  feature ? `sy:budget:${tenant}:f:${feature}:${month}` : `sy:budget:${tenant}:${month}`;

/**
 * The budgets a request reserves against: its tenant's and its feature's, as billing last
 * published them. A state of an earlier month still carries the limits (budgets are
 * monthly and repeat) but nothing is spent yet in this one.
 */
export function budgetPlan(state: BudgetState | undefined, tenant: string, feature: string, nowMs: number): BudgetPlan {
  const month = monthOf(nowMs);
  const plan: BudgetPlan = { specs: [], softLimits: [] };
  if (!state) return plan;
  const current = state.period === month;
  const add = (scope: BudgetScope, label: string) => {
    if (scope.hardLimitMicros <= 0 && scope.softLimitMicros <= 0) return;
    plan.specs.push({
      feature: scope.feature,
      key: budgetKey(tenant, scope.feature, month),
      label,
      hardLimitMicros: scope.hardLimitMicros > 0 ? scope.hardLimitMicros : -1,
      floorMicros: current ? scope.spentMicros : 0,
      floorAsOfMs: current ? state.asOfUnixMs : 0,
    });
    plan.softLimits.push(scope.softLimitMicros > 0 ? scope.softLimitMicros : undefined);
  };
  const tenantWide = state.scopes.find((s) => s.feature === '');
  if (tenantWide) add(tenantWide, `monthly budget of tenant ${tenant}`);
  const own = feature ? state.scopes.find((s) => s.feature === feature) : undefined;
  if (own) add(own, `monthly budget of feature "${feature}"`);
  return plan;
}

/** Budgets whose soft limit the committed amounts now exceed. */
export function softBreaches(plan: BudgetPlan, committedMicros: readonly number[]): string[] {
  return plan.specs.flatMap((s, i) => {
    const soft = plan.softLimits[i];
    return soft !== undefined && (committedMicros[i] ?? 0) > soft ? [s.label] : [];
  });
}

/**
 * Whether `next` supersedes `current` for the same tenant. Billing replicas may publish out
 * of order: a later month wins, then more postings (revision), then the later read (a change
 * of limits leaves the revision as it was).
 */
export function newerBudgetState(next: BudgetState, current: BudgetState): boolean {
  if (next.periodStartUnixMs !== current.periodStartUnixMs) return next.periodStartUnixMs > current.periodStartUnixMs;
  if (next.revision !== current.revision) return next.revision > current.revision;
  return next.asOfUnixMs >= current.asOfUnixMs;
}
