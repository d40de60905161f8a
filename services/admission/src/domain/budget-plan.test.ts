import { BudgetLevel, type BudgetScope, type BudgetState } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { budgetPlan, monthOf, newerBudgetState, softBreaches } from './budget-plan.js';

const NOV = Date.UTC(2026, 10, 22);
const NOV_START = Date.UTC(2026, 10, 1);
const DEC_START = Date.UTC(2026, 11, 1);

const scope = (feature: string, soft: number, hard: number, spent: number): BudgetScope => ({
  feature,
  softLimitMicros: soft,
  hardLimitMicros: hard,
  spentMicros: spent,
  level: BudgetLevel.BUDGET_LEVEL_OK,
  remainingMicros: 0,
});

const state = (over: Partial<BudgetState> = {}): BudgetState => ({
  tenant: 'acme',
  period: '2026-11',
  periodStartUnixMs: NOV_START,
  periodEndUnixMs: DEC_START,
  revision: 7,
  scopes: [scope('', 0, 5_000, 1_200), scope('chat', 900, 0, 300), scope('search', 0, 100, 0)],
  asOfUnixMs: NOV - 1_000,
  ...over,
});

describe('budget plan', () => {
  it("reserves against the tenant's and the request's feature budget, from the ledger's spend of this month", () => {
    const plan = budgetPlan(state(), 'acme', 'chat', NOV);
    expect(monthOf(NOV)).toBe('2026-11');
    expect(plan.specs).toEqual([
      {
        feature: '',
        key: 'sy:budget:acme:2026-11',
        label: 'monthly budget of tenant acme',
        hardLimitMicros: 5_000,
        floorMicros: 1_200,
        floorAsOfMs: NOV - 1_000,
      },
      {
        feature: 'chat',
        key: 'sy:budget:acme:f:chat:2026-11',
        label: 'monthly budget of feature "chat"',
        hardLimitMicros: -1,
        floorMicros: 300,
        floorAsOfMs: NOV - 1_000,
      },
    ]);
    expect(softBreaches(plan, [1_000, 901])).toEqual(['monthly budget of feature "chat"']);
    expect(softBreaches(plan, [1_000, 900])).toEqual([]);
  });

  it("keeps last month's limits in a new month but counts nothing spent yet", () => {
    const plan = budgetPlan(state(), 'acme', '', Date.UTC(2026, 11, 2));
    expect(plan.specs).toEqual([
      { feature: '', key: 'sy:budget:acme:2026-12', label: 'monthly budget of tenant acme', hardLimitMicros: 5_000, floorMicros: 0, floorAsOfMs: 0 },
    ]);
  });

  it('has nothing to reserve for a tenant without budgets', () => {
    expect(budgetPlan(undefined, 'acme', 'chat', NOV).specs).toEqual([]);
    expect(budgetPlan(state({ scopes: [scope('', 0, 0, 10)] }), 'acme', '', NOV).specs).toEqual([]);
  });

  it('takes a later month, then more postings, then the later read as the newer state', () => {
    expect(newerBudgetState(state({ periodStartUnixMs: DEC_START, revision: 1 }), state())).toBe(true);
    expect(newerBudgetState(state({ revision: 6, asOfUnixMs: NOV }), state())).toBe(false);
    expect(newerBudgetState(state({ revision: 8 }), state())).toBe(true);
    expect(newerBudgetState(state({ asOfUnixMs: NOV }), state())).toBe(true);
  });
});
