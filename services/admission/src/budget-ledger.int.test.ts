import { describe, expect, it } from 'vitest';
import { createBudgetLedger } from './budget-ledger.js';
import { useTestRedis } from './redis.fixture.js';

const redis = useTestRedis();

describe('budget ledger', () => {
  const budget = (key: string) => [{ key, label: 'monthly budget of tenant t', hardLimitMicros: 100 }];
  const pricing = { model: 'm', tier: 1 };

  it('never lets concurrent reservations pass the hard limit, and settles once', async () => {
    const ledger = createBudgetLedger(redis());
    const key = `sy:budget:t1:${Math.random()}`;
    const verdicts = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.reserve(`r${i}`, 8, budget(key), pricing)));
    expect(verdicts.filter((v) => v.reserved)).toHaveLength(12);
    expect(await ledger.settle('r0', 5)).toBe(true);
    expect(await ledger.settle('r0', 5)).toBe(false);
    expect(await ledger.spent(key)).toEqual({ spent: 5, reserved: 11 * 8 });
  });

  it('releases a reservation its crashed admission never settled once it expires', async () => {
    let clock = 1_000_000;
    const ledger = createBudgetLedger(redis(), () => clock, 60_000);
    const key = `sy:budget:t2:${Math.random()}`;
    // The admission that reserved this died before settling it.
    expect((await ledger.reserve('orphan', 90, budget(key), pricing)).reserved).toBe(true);
    expect((await ledger.reserve('next', 20, budget(key), pricing)).reserved).toBe(false);
    clock += 60_001;
    expect((await ledger.reserve('next', 20, budget(key), pricing)).reserved).toBe(true);
    expect(await ledger.spent(key)).toEqual({ spent: 0, reserved: 20 });
    // A late settle of the orphan still records its spend, without releasing it twice.
    expect(await ledger.settle('orphan', 30)).toBe(true);
    expect(await ledger.spent(key)).toEqual({ spent: 30, reserved: 20 });
  });
});
