import type { TenantSettings, TierLimits } from '@switchyard/auth';
import type { TierName } from '@switchyard/contracts';
import { periodOf } from '@switchyard/pricing';

/** One token bucket: `perMinute` tokens a minute, refilled continuously; a call takes `cost`. */
export interface BucketSpec {
  readonly key: string;
  /** What the limit is, for the refusal message, e.g. "realtime requests/min". */
  readonly label: string;
  readonly perMinute: number;
  readonly cost: number;
}

/** A monthly budget to reserve against; `hardLimitMicros` -1 means soft (never refuses). */
export interface BudgetSpec {
  readonly key: string;
  readonly label: string;
  readonly hardLimitMicros: number;
}

/** Calendar month (UTC) a budget counts against, e.g. `2026-11`. */
export const monthOf = (nowMs: number): string => periodOf(nowMs).period;

/**
 * The buckets a request draws from: requests/min and tokens/min of its tenant and tier.
 * Tokens count the prompt plus max_tokens, the most the request can consume.
 */
export function rateBuckets(tenant: string, tier: TierName, limits: TierLimits, tokens: number): BucketSpec[] {
  return [
    { key: `sy:rl:${tenant}:${tier}:req`, label: `${tier} requests/min (${limits.requestsPerMinute})`, perMinute: limits.requestsPerMinute, cost: 1 },
    { key: `sy:rl:${tenant}:${tier}:tok`, label: `${tier} tokens/min (${limits.tokensPerMinute})`, perMinute: limits.tokensPerMinute, cost: tokens },
  ];
}

export interface BudgetPlan {
  readonly specs: BudgetSpec[];
  /** Soft limits, by the same index as `specs`, for the warning after a reservation. */
  readonly softLimits: (number | undefined)[];
}

/** The monthly budgets a request reserves against: its tenant's and its feature's. */
export function budgetPlan(settings: TenantSettings | undefined, feature: string, nowMs: number): BudgetPlan {
  const month = monthOf(nowMs);
  const specs: BudgetSpec[] = [];
  const softLimits: (number | undefined)[] = [];
  const add = (key: string, label: string, budget: { monthlyMicros: number; mode: 'hard' | 'soft' }) => {
    specs.push({ key, label, hardLimitMicros: budget.mode === 'hard' ? budget.monthlyMicros : -1 });
    softLimits.push(budget.mode === 'soft' ? budget.monthlyMicros : undefined);
  };
  if (settings?.budget) add(`sy:budget:${settings.tenant}:${month}`, `monthly budget of tenant ${settings.tenant}`, settings.budget);
  const featureBudget = settings?.featureBudgets[feature];
  if (settings && featureBudget) add(`sy:budget:${settings.tenant}:f:${feature}:${month}`, `monthly budget of feature "${feature}"`, featureBudget);
  return { specs, softLimits };
}

/** Budgets whose soft limit the committed amounts now exceed. */
export function softBreaches(plan: BudgetPlan, committedMicros: readonly number[]): string[] {
  return plan.specs.flatMap((s, i) => {
    const soft = plan.softLimits[i];
    return soft !== undefined && (committedMicros[i] ?? 0) > soft ? [s.label] : [];
  });
}
