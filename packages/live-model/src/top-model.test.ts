import { Outcome, Tier, type BillableUsage, type RequestSpec, type RequestTerminated } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, priceUsage } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import { createTopModel } from './top-model.js';
import { testUsageRecorded } from '@switchyard/testing';

const bookAt = () => DEFAULT_PRICE_BOOK;

const usage = testUsageRecorded;

const terminal = (outcome: Outcome, tier: Tier = Tier.TIER_REALTIME) => ({ outcome, tier, tenant: 'acme' }) as RequestTerminated;
const admitted = (tier: Tier = Tier.TIER_REALTIME) => ({ tier, tenant: 'acme' }) as RequestSpec;
const oneUsageCost = priceUsage(usage() as unknown as BillableUsage, DEFAULT_PRICE_BOOK).amountMicros;

describe('top model', () => {
  it('takes per tier rates over the window on a pinned clock', () => {
    const m = createTopModel({ windowMs: 10_000, bookAt });
    for (let i = 0; i < 20; i++) m.onAdmitted(admitted(), 1_000 + i);
    for (let i = 0; i < 10; i++) m.onTerminal(terminal(Outcome.OUTCOME_COMPLETED), 2_000 + i);
    for (let i = 0; i < 5; i++) m.onTerminal(terminal(Outcome.OUTCOME_REJECTED), 2_000);
    m.onTerminal(terminal(Outcome.OUTCOME_FAILED, Tier.TIER_BATCH), 2_000);
    m.onUsage(usage(), 2_000);
    const s = m.snapshot(5_000, []);
    expect(s.tiers.map((t) => t.tier)).toEqual(['realtime', 'batch']);
    const rt = s.tiers[0]!;
    expect(rt.admittedPerS).toBe(2);
    expect(rt.completedPerS).toBe(1);
    expect(rt.rejectedPerS).toBe(0.5);
    expect(rt.counts).toEqual({ completed: 10, rejected: 5 });
    expect(rt.tokensPerS).toBe(150);
    expect(s.tiers[1]!.failedPerS).toBe(0.1);
  });

  it('gives TTFT and end-to-end percentiles of the window', () => {
    const m = createTopModel({ windowMs: 60_000, bookAt });
    for (let i = 1; i <= 101; i++) m.onUsage(usage({ ttftMs: i, totalMs: i * 10 }), 1_000);
    const rt = m.snapshot(2_000, []).tiers[0]!;
    expect(rt.ttftMs).toEqual({ p50: 51, p95: 96, p99: 100 });
    expect(rt.e2eMs).toEqual({ p50: 510, p95: 960, p99: 1_000 });
  });

  it('forgets what fell out of the window and caps what it holds', () => {
    const m = createTopModel({ windowMs: 1_000, maxSamplesPerTier: 3, bookAt });
    m.onUsage(usage({ ttftMs: 999 }), 0);
    for (let i = 0; i < 5; i++) m.onUsage(usage({ ttftMs: i }), 1_500);
    const rt = m.snapshot(2_000, []).tiers[0]!;
    expect(rt.ttftMs.p99).toBeLessThan(5);
    expect(rt.tokensPerS).toBe(3 * 1_500);
    const later = m.snapshot(10_000, []).tiers[0]!;
    expect(later.tokensPerS).toBe(0);
    expect(Number.isNaN(later.ttftMs.p50)).toBe(true);
  });

  it('prices billable usage per tenant, top spender first, and bills no platform failure', () => {
    const m = createTopModel({ windowMs: 60_000, topTenants: 2, bookAt });
    m.onUsage(usage(), 1_000);
    m.onUsage(usage({ outcome: Outcome.OUTCOME_CANCELLED }), 1_000);
    m.onUsage(usage({ tenant: 'globex' }), 1_000);
    m.onUsage(usage({ tenant: 'initech', outcome: Outcome.OUTCOME_FAILED }), 1_000);
    const s = m.snapshot(2_000, []);
    expect(oneUsageCost).toBeGreaterThan(0);
    expect(s.tenants).toEqual([
      { tenant: 'acme', spendMicros: 2 * oneUsageCost, spendPerHourMicros: 2 * oneUsageCost * 60, requests: 2 },
      { tenant: 'globex', spendMicros: oneUsageCost, spendPerHourMicros: oneUsageCost * 60, requests: 1 },
    ]);
  });

  it('takes rates over the part of the window it listened to', () => {
    const m = createTopModel({ windowMs: 60_000, listeningSinceMs: 0, bookAt });
    for (let i = 0; i < 10; i++) m.onTerminal(terminal(Outcome.OUTCOME_COMPLETED), 1_000);
    m.onUsage(usage(), 1_000);
    const early = m.snapshot(5_000, []);
    expect(early.heardMs).toBe(5_000);
    expect(early.tiers[0]!.completedPerS).toBe(2);
    expect(early.tenants[0]!.spendPerHourMicros).toBe(oneUsageCost * 720);
    expect(m.snapshot(50_000, []).tiers[0]!.completedPerS).toBe(0.2);
    expect(m.snapshot(70_000, []).tiers).toEqual([expect.objectContaining({ completedPerS: 0 })]);
  });

  it('shows pools with utilisation from heartbeats and the rate each served', () => {
    const m = createTopModel({ windowMs: 10_000, bookAt });
    for (let i = 0; i < 30; i++) m.onUsage(usage(), 1_000);
    const state = {
      healthyWorkers: 1,
      drainingWorkers: 0,
      hungWorkers: 0,
      running: 8,
      waiting: 2,
      freeSlots: 8,
      kvUsed: 0.25,
      stepMs: 20,
      ttftMs: 40,
      lastBeatUnixMs: 1_000,
    };
    const s = m.snapshot(2_000, [
      { id: 'gpu-a', workers: 2, slotsPerWorker: 8, state },
      { id: 'gpu-b', workers: 1, slotsPerWorker: 8, state: undefined },
    ]);
    expect(s.pools).toEqual([
      { pool: 'gpu-a', healthyWorkers: 1, workers: 2, running: 8, waiting: 2, freeSlots: 8, kvUsed: 0.25, utilisation: 0.5, servedPerS: 3 },
      { pool: 'gpu-b', healthyWorkers: 0, workers: 1, running: 0, waiting: 0, freeSlots: 0, kvUsed: 0, utilisation: 0, servedPerS: 0 },
    ]);
  });
});

describe('top model attainment', () => {
  it('gives each tier with an objective the share of requests whose first token came within it', () => {
    const m = createTopModel({ windowMs: 10_000, bookAt, ttftObjectivesMs: { realtime: 100 } });
    for (const ttftMs of [50, 90, 100, 150]) m.onUsage({ ...usage(), ttftMs }, 1_000);
    m.onUsage({ ...usage(), tier: Tier.TIER_BATCH, ttftMs: 10 }, 1_000);
    const [realtime, batch] = m.snapshot(2_000, []).tiers;
    expect(realtime).toMatchObject({ tier: 'realtime', ttftAttainment: 0.75 });
    expect(batch!.ttftAttainment).toBeNaN();
  });
});
