import { BudgetLevel } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { budgetLevel, budgetState, budgetStateId, rejectBudget } from './budget.js';
import { parsePeriod, periodOf } from './period.js';

describe('budgets', () => {
  it('is soft at the soft limit and hard at the hard limit; 0 means no limit', () => {
    expect(budgetLevel(99, 100, 200)).toBe(BudgetLevel.BUDGET_LEVEL_OK);
    expect(budgetLevel(100, 100, 200)).toBe(BudgetLevel.BUDGET_LEVEL_SOFT_EXCEEDED);
    expect(budgetLevel(200, 100, 200)).toBe(BudgetLevel.BUDGET_LEVEL_HARD_EXCEEDED);
    expect(budgetLevel(10 ** 12, 0, 0)).toBe(BudgetLevel.BUDGET_LEVEL_OK);
  });

  it("states every budget of the tenant with this month's spend and the tenant row's revision", () => {
    const period = parsePeriod('2030-02')!;
    const budgets = [
      { tenant: 'acme', feature: 'chat', softLimitMicros: 50, hardLimitMicros: 0, updatedAtMs: 7 },
      { tenant: 'acme', feature: '', softLimitMicros: 0, hardLimitMicros: 100, updatedAtMs: 3 },
      { tenant: 'other', feature: '', softLimitMicros: 1, hardLimitMicros: 1, updatedAtMs: 9 },
    ];
    const state = budgetState({
      tenant: 'acme',
      period,
      budgets,
      spends: [
        { feature: '', spentMicros: 80, revision: 12 },
        { feature: 'chat', spentMicros: 60, revision: 4 },
      ],
      asOfMs: 5,
    });
    expect(state).toMatchObject({
      tenant: 'acme',
      period: '2030-02',
      periodStartUnixMs: Date.UTC(2030, 1, 1),
      periodEndUnixMs: Date.UTC(2030, 2, 1),
      revision: 12,
    });
    expect(state.scopes.map((s) => [s.feature, s.spentMicros, s.level, s.remainingMicros])).toEqual([
      ['', 80, BudgetLevel.BUDGET_LEVEL_OK, 20],
      ['chat', 60, BudgetLevel.BUDGET_LEVEL_SOFT_EXCEEDED, 0],
    ]);
    expect(budgetStateId(state, budgets)).toBe('budget-acme-2030-02-12-7-2');
  });

  it('refuses limits that are negative, fractional or upside down', () => {
    expect(rejectBudget({ feature: '', softLimitMicros: -1, hardLimitMicros: 0 })).toMatch(/soft_limit_micros/);
    expect(rejectBudget({ feature: '', softLimitMicros: 0.5, hardLimitMicros: 0 })).toMatch(/whole/);
    expect(rejectBudget({ feature: '', softLimitMicros: 5, hardLimitMicros: 4 })).toMatch(/must not exceed/);
    expect(rejectBudget({ feature: 'x', softLimitMicros: 5, hardLimitMicros: 0 })).toBeUndefined();
  });

  it('knows calendar months in UTC', () => {
    expect(periodOf(Date.UTC(2030, 11, 31, 23, 59, 59, 999))).toEqual({ period: '2030-12', startMs: Date.UTC(2030, 11, 1), endMs: Date.UTC(2031, 0, 1) });
    expect(parsePeriod('2030-13')).toBeUndefined();
  });
});
