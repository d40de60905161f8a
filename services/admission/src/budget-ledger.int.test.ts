import { describe, expect, it } from 'vitest';
import { createBudgetLedger } from './budget-ledger.js';
import type { BudgetSpec } from './domain/budget-plan.js';
import { useTestRedis } from './redis.fixture.js';

const redis = useTestRedis();

describe('budget ledger', () => {
  const spec = (key: string, floorMicros = 0, floorAsOfMs = 0): BudgetSpec => ({
    feature: '',
    key,
    label: 'monthly budget of tenant t',
    hardLimitMicros: 100,
    floorMicros,
    floorAsOfMs,
  });
  const pricing = { model: 'm', tier: 1 };

  it('never lets concurrent reservations pass the hard limit, and settles once', async () => {
    const ledger = createBudgetLedger(redis());
    const key = `sy:budget:t1:${Math.random()}`;
    const verdicts = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.reserve(`r${i}`, 8, [spec(key)], pricing)));
    expect(verdicts.filter((v) => v.reserved)).toHaveLength(12);
    expect(await ledger.settle('r0', 5)).toBe(true);
    expect(await ledger.settle('r0', 5)).toBe(false);
    expect(await ledger.committed(spec(key))).toEqual({ spentMicros: 5, provisionalMicros: 5, reservedMicros: 11 * 8 });
  });

  it("counts the ledger's spend as billing published it: a fresh Redis (FLUSHALL) still refuses past the limit", async () => {
    const ledger = createBudgetLedger(redis());
    const key = `sy:budget:t3:${Math.random()}`;
    const verdict = await ledger.reserve('r1', 20, [spec(key, 90, Date.now())], pricing);
    expect(verdict).toEqual({ reserved: false, label: 'monthly budget of tenant t', committedMicros: 90 });
    expect((await ledger.reserve('r2', 10, [spec(key, 90, Date.now())], pricing)).reserved).toBe(true);
  });

  it("holds a settled amount until billing's spend includes it, then counts only the ledger's figure", async () => {
    let clock = 5_000_000;
    const ledger = createBudgetLedger(redis(), { now: () => clock, provisionalGraceMs: 1_000 });
    const key = `sy:budget:t4:${Math.random()}`;
    expect((await ledger.reserve('a', 50, [spec(key, 0, clock - 10)], pricing)).reserved).toBe(true);
    expect(await ledger.settle('a', 40)).toBe(true);
    const settledAt = clock;
    // Billing has not posted it yet: its published spend is still 0, the 40 counts here.
    expect(await ledger.reserve('b', 70, [spec(key, 0, settledAt + 500)], pricing)).toMatchObject({ reserved: false, committedMicros: 40 });
    // Billing read its ledger well after the settlement: the 40 is in its 38 (a discount), not on top.
    clock += 2_000;
    expect(await ledger.committed(spec(key, 38, settledAt + 1_500))).toEqual({ spentMicros: 38, provisionalMicros: 0, reservedMicros: 0 });
    expect(await ledger.reserve('b', 62, [spec(key, 38, settledAt + 1_500)], pricing)).toMatchObject({ reserved: true, committedMicros: [100] });
  });

  it('releases a reservation its crashed admission never settled once it expires', async () => {
    let clock = 1_000_000;
    const ledger = createBudgetLedger(redis(), { now: () => clock, reservationTtlMs: 60_000 });
    const key = `sy:budget:t2:${Math.random()}`;
    // The admission that reserved this died before settling it.
    expect((await ledger.reserve('orphan', 90, [spec(key)], pricing)).reserved).toBe(true);
    expect((await ledger.reserve('next', 20, [spec(key)], pricing)).reserved).toBe(false);
    clock += 60_001;
    expect((await ledger.reserve('next', 20, [spec(key)], pricing)).reserved).toBe(true);
    expect(await ledger.committed(spec(key))).toEqual({ spentMicros: 0, provisionalMicros: 0, reservedMicros: 20 });
    // A late settle of the orphan still records its spend, without releasing it twice.
    expect(await ledger.settle('orphan', 30)).toBe(true);
    expect(await ledger.committed(spec(key))).toEqual({ spentMicros: 30, provisionalMicros: 30, reservedMicros: 20 });
  });
});
