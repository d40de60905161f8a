import { describe, expect, it } from 'vitest';
import { createLoadTracker } from './load-tracker.js';

describe('load tracker', () => {
  it('counts outstanding requests per pool, tier and tenant until they end', () => {
    const t = createLoadTracker();
    t.dispatched('a', 'p1', 'realtime', 100, 50, 0, 0, 'acme');
    t.dispatched('b', 'p1', 'batch', 200, 10, 0, 0, 'globex');
    t.dispatched('a', 'p1', 'realtime', 100, 50, 0, 0, 'acme');
    expect(t.of('p1')).toEqual({
      total: 2,
      byTier: { realtime: 1, internal: 0, batch: 1 },
      promptTokens: 300,
      outputTokens: 60,
      prefillMs: 0,
      byTenant: new Map([
        ['acme', { realtime: 1, internal: 0, batch: 0 }],
        ['globex', { realtime: 0, internal: 0, batch: 1 }],
      ]),
    });
    expect(t.ended('a')).toBe('p1');
    expect(t.of('p1').total).toBe(1);
    expect([...t.of('p1').byTenant.keys()]).toEqual(['globex']);
    expect(t.hasEnded('a')).toBe(true);
  });

  it('moves a request between pools and ignores dispatches seen after its end', () => {
    const t = createLoadTracker();
    t.dispatched('a', 'p1', 'internal', 1, 1, 0);
    t.dispatched('a', 'p2', 'internal', 1, 1, 0);
    expect([t.of('p1').total, t.of('p2').total]).toEqual([0, 1]);
    t.ended('a');
    t.dispatched('a', 'p3', 'internal', 1, 1, 0);
    expect(t.of('p3').total).toBe(0);
  });

  it('forgets requests whose end it never saw', () => {
    const t = createLoadTracker({ maxAgeMs: 1_000 });
    t.dispatched('a', 'p1', 'internal', 1, 1, 0);
    t.dispatched('b', 'p1', 'internal', 1, 1, 900);
    expect(t.prune(1_500)).toBe(1);
    expect(t.size).toBe(1);
  });

  it('never holds more prefill backlog than the requests still outstanding: it is empty once they ended', () => {
    const t = createLoadTracker();
    t.dispatched('a', 'p1', 'internal', 1_000, 16, 0, 40);
    t.dispatched('b', 'p1', 'internal', 1_000, 16, 0, 40);
    t.dispatched('c', 'p1', 'internal', 1_000, 16, 0, 40);
    // Drained at 1 GPU ms per ms: 10 ms later, 110 ms are still ahead.
    expect(t.prefillBacklog('p1', 10, 1)).toBe(110);
    // GPUs faster than the drain rate says (a simulator at full speed) finished two requests.
    t.ended('a');
    t.ended('b');
    expect(t.prefillBacklog('p1', 11, 1)).toBe(40);
    t.ended('c');
    expect(t.prefillBacklog('p1', 12, 1)).toBe(0);
  });
});
