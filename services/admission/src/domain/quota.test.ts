import { describe, expect, it } from 'vitest';
import { budgetPlan, monthOf, rateBuckets, softBreaches } from './quota.js';

const NOV = Date.UTC(2026, 10, 22);

describe('quota', () => {
  it('charges one request and prompt+max_tokens tokens against the tier buckets', () => {
    const b = rateBuckets('acme', 'realtime', { requestsPerMinute: 60, tokensPerMinute: 10_000 }, 1_280);
    expect(b.map((x) => [x.key, x.cost, x.perMinute])).toEqual([
      ['sy:rl:acme:realtime:req', 1, 60],
      ['sy:rl:acme:realtime:tok', 1_280, 10_000],
    ]);
  });

  it('reserves against the tenant and the feature budget of the current month', () => {
    const plan = budgetPlan(
      { tenant: 'acme', limits: {}, budget: { monthlyMicros: 5_000, mode: 'hard' }, featureBudgets: { chat: { monthlyMicros: 900, mode: 'soft' } } },
      'chat',
      NOV,
    );
    expect(monthOf(NOV)).toBe('2026-11');
    expect(plan.specs).toEqual([
      { key: 'sy:budget:acme:2026-11', label: 'monthly budget of tenant acme', hardLimitMicros: 5_000 },
      { key: 'sy:budget:acme:f:chat:2026-11', label: 'monthly budget of feature "chat"', hardLimitMicros: -1 },
    ]);
    expect(softBreaches(plan, [1_000, 901])).toEqual(['monthly budget of feature "chat"']);
    expect(softBreaches(plan, [1_000, 900])).toEqual([]);
  });

  it('has nothing to reserve for a tenant without budgets', () => {
    expect(budgetPlan(undefined, 'chat', NOV).specs).toEqual([]);
  });
});
