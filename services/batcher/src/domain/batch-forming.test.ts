import type { TierName } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { byUrgency, fairOrder, formBatch, type FormingRules, type Queued } from './batch-forming.js';
import { createTenantTurns } from './tenant-turns.js';

const rules: FormingRules = { maxRequests: 8, maxPromptTokens: 4_096, maxWaitMs: { realtime: 5, internal: 50, batch: 2_000 }, preferredSize: 4 };
const roomy = { freeSlots: 64, freeKvTokens: 1_000_000 };
let n = 0;
const q = (tier: TierName, over: Partial<Queued> = {}): Queued => ({
  requestId: `r${n++}`,
  tenant: 'acme',
  tier,
  turn: 0,
  deadlineUnixMs: 0,
  promptTokens: 100,
  maxTokens: 100,
  enqueuedUnixMs: 1_000,
  ...over,
});

describe('formBatch', () => {
  it('orders realtime before internal before batch, and earliest deadline first within a tier', () => {
    const late = q('realtime', { deadlineUnixMs: 9_000 });
    const soon = q('realtime', { deadlineUnixMs: 5_000 });
    const items = [q('batch'), q('internal'), late, soon];
    expect(items.sort(byUrgency).map((i) => i.tier)).toEqual(['realtime', 'realtime', 'internal', 'batch']);
    expect(items[0]).toBe(soon);
  });

  it("holds a lone request until its tier's maximum wait, then sends it", () => {
    const one = [q('internal', { enqueuedUnixMs: 1_000 })];
    const early = formBatch(one, roomy, rules, 1_010);
    expect(early.batch).toEqual([]);
    expect(early.nextCheckMs).toBe(40);
    expect(formBatch(one, roomy, rules, 1_050).batch).toEqual(one);
  });

  it('sends a preferred-size batch at once, without waiting', () => {
    const four = [q('batch'), q('batch'), q('batch'), q('batch')];
    expect(formBatch(four, roomy, rules, 1_000).batch).toHaveLength(4);
  });

  it('expires requests whose deadline passed instead of sending them', () => {
    const dead = q('realtime', { deadlineUnixMs: 999 });
    const alive = q('realtime', { enqueuedUnixMs: 990 });
    const f = formBatch([dead, alive], roomy, rules, 1_000);
    expect(f.expired).toEqual([dead]);
    expect(f.batch).toEqual([alive]);
  });

  it('sends only as many as the workers announced room for', () => {
    const many = Array.from({ length: 10 }, () => q('realtime', { enqueuedUnixMs: 0 }));
    expect(formBatch(many, { freeSlots: 3, freeKvTokens: 1_000_000 }, rules, 1_000).batch).toHaveLength(3);
    expect(formBatch(many, { freeSlots: 0, freeKvTokens: 1_000_000 }, rules, 1_000).batch).toHaveLength(0);
    expect(formBatch(many, { freeSlots: 64, freeKvTokens: 450 }, rules, 1_000).batch).toHaveLength(2);
  });

  it('keeps one huge prompt from stalling small ones: it travels alone', () => {
    const huge = q('realtime', { promptTokens: 6_000, enqueuedUnixMs: 0 });
    const smalls = [q('realtime', { enqueuedUnixMs: 1 }), q('realtime', { enqueuedUnixMs: 2 })];
    expect(formBatch([huge, ...smalls], roomy, rules, 1_000).batch).toEqual([huge]);
    expect(formBatch(smalls, roomy, rules, 1_000).batch).toEqual(smalls);
  });

  it('sends a request early enough for its deadline', () => {
    const tight = q('internal', { enqueuedUnixMs: 1_000, deadlineUnixMs: 1_030 });
    expect(formBatch([tight], roomy, rules, 1_000).batch).toEqual([tight]);
  });

  it('serves a tenant at its usual rate after at most one request of a tenant flooding the queue, one free slot at a time', () => {
    const turns = createTenantTurns();
    const arrive = (tenant: string, at: number) => q('realtime', { tenant, enqueuedUnixMs: at, turn: turns.book(tenant, 'realtime') });
    let queue = Array.from({ length: 40 }, (_, i) => arrive('flooder', i));
    const served: Queued[] = [];
    const serveOne = () => {
      const [next] = formBatch(queue, { freeSlots: 1, freeKvTokens: 1_000_000 }, rules, 1_000).batch;
      turns.served(next!.tier, next!.turn);
      queue = queue.filter((x) => x !== next);
      served.push(next!);
    };
    for (let i = 0; i < 10; i++) serveOne();
    const steady = arrive('steady', 500);
    queue.push(steady, ...Array.from({ length: 40 }, (_, i) => arrive('flooder', 600 + i)));
    serveOne();
    serveOne();
    expect(served.indexOf(steady)).toBeGreaterThanOrEqual(10);
    expect(served.indexOf(steady)).toBeLessThanOrEqual(11);
  });

  it("uses each tenant's turns for its most urgent requests first, tiers before turns", () => {
    const late = q('realtime', { tenant: 'a', deadlineUnixMs: 9_000, turn: 0 });
    const soon = q('realtime', { tenant: 'a', deadlineUnixMs: 5_000, turn: 1 });
    const other = q('realtime', { tenant: 'b', turn: 1 });
    const internal = q('internal', { tenant: 'b', turn: 0, enqueuedUnixMs: 0 });
    expect(fairOrder([internal, other, late, soon])).toEqual([soon, late, other, internal]);
  });

  it('sends when any request falls due, not only the first in order', () => {
    const fresh = q('realtime', { tenant: 'a', enqueuedUnixMs: 1_000 });
    const waited = q('internal', { tenant: 'b', enqueuedUnixMs: 940 });
    expect(formBatch([fresh, waited], roomy, { ...rules, maxWaitMs: { realtime: 50, internal: 50, batch: 50 } }, 1_000).batch).toEqual([fresh, waited]);
  });
});
