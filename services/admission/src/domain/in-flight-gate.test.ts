import { describe, expect, it } from 'vitest';
import { createInFlightGate } from './in-flight-gate.js';

describe('in-flight gate', () => {
  it('lets `limit` calls of a key run, queues the rest in arrival order, and leaves other keys alone', async () => {
    const gate = createInFlightGate();
    const a1 = await gate.enter('acme/internal', 2);
    const a2 = await gate.enter('acme/internal', 2);
    const order: string[] = [];
    const a3 = gate.enter('acme/internal', 2).then((leave) => (order.push('a3'), leave));
    const a4 = gate.enter('acme/internal', 2).then((leave) => (order.push('a4'), leave));
    // Another tenant is not behind acme's line.
    const b1 = await gate.enter('globex/internal', 2);
    expect(gate.running('acme/internal')).toBe(2);
    await Promise.resolve();
    expect(order).toEqual([]);
    a1();
    (await a3)();
    a2();
    (await a4)();
    expect(order).toEqual(['a3', 'a4']);
    b1();
    expect(gate.running('acme/internal')).toBe(0);
    expect(gate.running('globex/internal')).toBe(0);
  });

  it('a waiting call that is cancelled leaves the line and fails with FAILED_PRECONDITION', async () => {
    const gate = createInFlightGate();
    const leave = await gate.enter('k', 1);
    const abort = new AbortController();
    const waiting = gate.enter('k', 1, abort.signal);
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    // A call cancelled before it reached the line never waits in it.
    await expect(gate.enter('k', 1, abort.signal)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    leave();
    expect(gate.running('k')).toBe(0);
  });

  it('refuses at once with RESOURCE_EXHAUSTED when the line is full', async () => {
    const gate = createInFlightGate(1);
    await gate.enter('k', 1);
    void gate.enter('k', 1);
    await expect(gate.enter('k', 1)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterMs: 1_000 });
  });
});
