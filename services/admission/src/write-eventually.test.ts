import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { writeEventually } from './write-eventually.js';

const outage = new Error('Redis down');
const retryable = (e: unknown) => e === outage;

/** A write that fails with an outage `failures` times, then lands. */
function flakyWrite(failures: number) {
  const state = { calls: 0, landed: false };
  const write = async () => {
    state.calls++;
    if (state.calls <= failures) throw outage;
    state.landed = true;
  };
  return { state, write };
}

describe('writeEventually', () => {
  it('resolves true when the first attempt lands, and writes once', async () => {
    const { state, write } = flakyWrite(0);
    expect(await writeEventually(write, { retryable, giveUpAfterMs: 1_000, onGiveUp: () => {} })).toBe(true);
    expect(state.calls).toBe(1);
  });

  it('resolves false at once on an outage, and lands the write in the background once the outage ends', async () => {
    const { state, write } = flakyWrite(3);
    expect(await writeEventually(write, { retryable, giveUpAfterMs: 1_000, delaysMs: [5], onGiveUp: () => {} })).toBe(false);
    expect(state.landed).toBe(false);
    for (let i = 0; i < 100 && !state.landed; i++) await sleep(5);
    expect(state).toEqual({ calls: 4, landed: true });
  });

  it('gives up after giveUpAfterMs and says so', async () => {
    const { write } = flakyWrite(Infinity);
    let clock = 0;
    const given: unknown[] = [];
    await writeEventually(write, { retryable, giveUpAfterMs: 100, delaysMs: [1], now: () => (clock += 30), onGiveUp: (e) => given.push(e) });
    for (let i = 0; i < 100 && given.length === 0; i++) await sleep(5);
    expect(given).toEqual([outage]);
  });

  it('throws a failure that is no outage, as before', async () => {
    const defect = new Error('a bug');
    await expect(writeEventually(() => Promise.reject(defect), { retryable, giveUpAfterMs: 1_000, onGiveUp: () => {} })).rejects.toBe(defect);
  });
});
