import { BudgetLevel, type BudgetScope, type BudgetState } from '@switchyard/contracts';
import type { Period } from '@switchyard/pricing';

/** A monthly budget; feature '' is the tenant-wide one. Limits of 0 mean none. */
export interface Budget {
  readonly tenant: string;
  readonly feature: string;
  readonly softLimitMicros: number;
  readonly hardLimitMicros: number;
  readonly updatedAtMs: number;
}

/** Spend of one budget row this period. */
export interface Spend {
  readonly feature: string;
  readonly spentMicros: number;
  readonly revision: number;
}

/** How far `spent` has gone against the limits; a limit of 0 is no limit. */
export function budgetLevel(spentMicros: number, softLimitMicros: number, hardLimitMicros: number): BudgetLevel {
  if (hardLimitMicros > 0 && spentMicros >= hardLimitMicros) return BudgetLevel.BUDGET_LEVEL_HARD_EXCEEDED;
  if (softLimitMicros > 0 && spentMicros >= softLimitMicros) return BudgetLevel.BUDGET_LEVEL_SOFT_EXCEEDED;
  return BudgetLevel.BUDGET_LEVEL_OK;
}

export interface BudgetStateInput {
  readonly tenant: string;
  readonly period: Period;
  readonly budgets: readonly Budget[];
  readonly spends: readonly Spend[];
  readonly asOfMs: number;
}

/**
 * The state admission enforces: one scope per budget of the tenant, with this period's
 * spend. The revision is the tenant-wide spend row's, which every posting of the tenant
 * bumps, so a consumer keeps the state with the highest one.
 */
export function budgetState(input: BudgetStateInput): BudgetState {
  const spent = new Map(input.spends.map((s) => [s.feature, s]));
  const scopes: BudgetScope[] = input.budgets
    .filter((b) => b.tenant === input.tenant)
    .sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0))
    .map((b) => {
      const spentMicros = spent.get(b.feature)?.spentMicros ?? 0;
      return {
        feature: b.feature,
        softLimitMicros: b.softLimitMicros,
        hardLimitMicros: b.hardLimitMicros,
        spentMicros,
        level: budgetLevel(spentMicros, b.softLimitMicros, b.hardLimitMicros),
        remainingMicros: b.hardLimitMicros > 0 ? Math.max(0, b.hardLimitMicros - spentMicros) : 0,
      };
    });
  return {
    tenant: input.tenant,
    period: input.period.period,
    periodStartUnixMs: input.period.startMs,
    periodEndUnixMs: input.period.endMs,
    revision: spent.get('')?.revision ?? 0,
    scopes,
    asOfUnixMs: input.asOfMs,
  };
}

/**
 * The Nats-Msg-Id of a state: equal states de-duplicate, and any change of spend or of the
 * budgets makes a new one.
 */
export function budgetStateId(state: BudgetState, budgets: readonly Budget[]): string {
  const budgetsVersion = budgets.filter((b) => b.tenant === state.tenant).reduce((m, b) => Math.max(m, b.updatedAtMs), 0);
  return `budget-${state.tenant}-${state.period}-${state.revision}-${budgetsVersion}-${state.scopes.length}`;
}

/** Why a budget may not be set, or undefined when it may. */
export function rejectBudget(b: Pick<Budget, 'softLimitMicros' | 'hardLimitMicros' | 'feature'>): string | undefined {
  for (const [name, v] of [
    ['soft_limit_micros', b.softLimitMicros],
    ['hard_limit_micros', b.hardLimitMicros],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) return `${name} must be whole micros >= 0`;
  }
  if (b.softLimitMicros > 0 && b.hardLimitMicros > 0 && b.softLimitMicros > b.hardLimitMicros) return 'the soft limit must not exceed the hard limit';
  if (b.feature.length > 128) return 'feature names are at most 128 characters';
  return undefined;
}
