import type { TierName } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { byUrgency, formBatch, type FormingRules, type Queued } from './batch-forming.js';

const rules: FormingRules = { maxRequests: 8, maxPromptTokens: 4_096, maxWaitMs: { realtime: 5, internal: 50, batch: 2_000 }, preferredSize: 4 };
const roomy = { freeSlots: 64, freeKvTokens: 1_000_000 };
let n = 0;
const q = (tier: TierName, over: Partial<Queued> = {}): Queued => ({
  requestId: `r${n++}`,
  tier,
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
});
