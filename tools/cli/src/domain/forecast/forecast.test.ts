import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { defaultScheduling } from '@switchyard/scheduler';
import { forecast } from './forecast.js';
import { options, pool, rows, scheduling } from './forecast.fixture.js';
import { scaledRequests } from './requests.js';
import { simulate } from './simulate.js';
import { summarize } from './summary.js';

const sloTtftMs = { realtime: scheduling.tiers.realtime.ttftMs, internal: scheduling.tiers.internal.ttftMs, batch: scheduling.tiers.batch.ttftMs };

describe('forecast', () => {
  it('meets every objective at light load, with the GPU mostly idle', () => {
    const [one] = forecast(options);
    const s = one!.summary;
    expect(s.requests).toBe(30);
    for (const t of ['realtime', 'internal', 'batch'] as const) expect(s.tiers[t].attainment).toBe(1);
    expect(s.pools[0]!.utilisation).toBeLessThan(0.2);
    expect(s.pools[0]!.busy).toBeLessThan(0.7);
    expect(one!.capacity).toBeUndefined();
    expect(s.bill.map((b) => b.tenant).sort()).toEqual(['acme', 'globex']);
    expect(s.bill.every((b) => b.feature === 'chat')).toBe(true);
    expect(s.tokens).toBe(30 * 250);
  });

  it('twice the arrival rate doubles the bill and the batches, not the provisioned cost', () => {
    const [one, two] = forecast({ ...options, scales: [1, 2] }).map((f) => f.summary);
    expect(two!.requests).toBe(2 * one!.requests);
    expect(two!.billMicros / one!.billMicros).toBeGreaterThan(1.8);
    expect(two!.billMicros / one!.billMicros).toBeLessThan(2.2);
    expect(two!.pools[0]!.utilisation / one!.pools[0]!.utilisation).toBeGreaterThan(1.6);
    expect(two!.pools[0]!.utilisation / one!.pools[0]!.utilisation).toBeLessThan(2.4);
    expect(two!.pools[0]!.busyMicros).toBeGreaterThan(one!.pools[0]!.busyMicros);
    expect(two!.gpuCostMicros / one!.gpuCostMicros).toBeLessThan(1.1);
    expect(two!.gpuCostPer1kMicros).toBeLessThan(one!.gpuCostPer1kMicros);
  });

  it('sheds under overload, and the GPUs the planner adds bring attainment back (checked by simulating again)', () => {
    const [over] = forecast({ ...options, scales: [10] });
    expect(over!.summary.tiers.realtime.attainment).toBeLessThan(0.99);
    expect(over!.summary.tiers.realtime.rejected).toBeGreaterThan(0);
    const plan = over!.capacity!;
    expect(plan.met).toBe(true);
    const added = plan.extra.tiny ?? 0;
    expect(added).toBeGreaterThan(0);
    expect(plan.extraCostMicros).toBeGreaterThan(0);

    const requests = scaledRequests(rows, 10, { ...options }).requests;
    const run = (workers: number) =>
      summarize(simulate({ pools: [{ ...pool, workers }], perf: options.perf, scheduling, model: options.model, requests, seed: options.seed }), {
        model: options.model,
        book: DEFAULT_PRICE_BOOK,
        sloTtftMs,
      });
    const planned = run(1 + added);
    for (const t of ['realtime', 'internal', 'batch'] as const) expect(planned.tiers[t].attainment).toBeGreaterThanOrEqual(0.99);
    // The smallest: one GPU fewer misses.
    const fewer = run(added);
    expect(Math.min(fewer.tiers.realtime.attainment, fewer.tiers.internal.attainment, fewer.tiers.batch.attainment)).toBeLessThan(0.99);
  });

  it('gives the same forecast for the same seed', () => {
    expect(forecast({ ...options, scales: [1, 10] })).toEqual(forecast({ ...options, scales: [1, 10] }));
  });

  it('splits each pool cost into busy and idle, which add up to workers x price x window', () => {
    for (const f of forecast({ ...options, scales: [1, 5] })) {
      for (const p of f.summary.pools) {
        expect(p.busyMicros + p.idleMicros).toBe(p.costMicros);
        expect(p.costMicros).toBeCloseTo(((p.workers * 3.6 * f.summary.windowS) / 3_600) * 1e6, -1);
      }
      expect(f.summary.gpuCostMicros).toBe(f.summary.pools.reduce((a, p) => a + p.costMicros, 0));
    }
  });

  it('serves realtime before batch from a pool queue', () => {
    const requests = scaledRequests(rows, 20, { ...options, tierMix: { realtime: 50, internal: 0, batch: 50 } }).requests;
    const s = summarize(
      simulate({
        pools: [pool],
        perf: options.perf,
        scheduling: defaultScheduling({ tiers: { realtime: { ttftMs: 1_000, onOverload: 'queue', latencyWeight: 0.8 } } }),
        model: options.model,
        requests,
        seed: 1,
      }),
      {
        model: options.model,
        book: DEFAULT_PRICE_BOOK,
        sloTtftMs,
      },
    );
    expect(s.tiers.realtime.ttftP50Ms).toBeLessThan(s.tiers.batch.ttftP50Ms);
  });

  it("holds a tenant's calls past admission's in-flight limit in admission, first come first served, and counts the wait in their TTFT", () => {
    // Six internal calls of one tenant at once, two allowed to run: four wait for earlier ones to end.
    const burst = Array.from({ length: 6 }, (_, index) => ({
      index,
      tier: 'internal' as const,
      tenant: 'acme',
      feature: 'chat',
      promptTokens: 200,
      maxTokens: 50,
      arrivalMs: 0,
    }));
    const base = { pools: [{ ...pool, slotsPerWorker: 8 }], perf: options.perf, scheduling, model: options.model, requests: burst, seed: 1 };
    const free = simulate(base);
    const paced = simulate({ ...base, inFlightPerTenant: { realtime: 256, internal: 2, batch: 8 } });
    expect(free.outcomes.every((o) => o.outcome === 'completed' && o.admissionWaitMs === undefined)).toBe(true);
    expect(paced.outcomes.every((o) => o.outcome === 'completed')).toBe(true);
    const waits = paced.outcomes.map((o) => o.admissionWaitMs ?? 0);
    expect(waits.filter((w) => w > 0)).toHaveLength(4);
    // In arrival order: the third and fourth go when the first two end, the last two after them.
    expect(waits[2]).toBeGreaterThan(0);
    expect(waits[4]!).toBeGreaterThan(waits[2]!);
    for (const [i, o] of paced.outcomes.entries()) expect(o.ttftMs!).toBeGreaterThanOrEqual(waits[i]!);
    const tiers = summarize(paced, { model: options.model, book: DEFAULT_PRICE_BOOK, sloTtftMs }).tiers;
    expect(tiers.internal.pacedInAdmission).toBe(4);
    expect(tiers.internal.admissionWaitP95Ms).toBeGreaterThan(waits[2]!);
    expect(tiers.internal.admissionWaitP95Ms).toBeLessThanOrEqual(Math.max(...waits));
  });
});
