import { describe, expect, it } from 'vitest';
import { createRateWindow } from './rate-window.js';

describe("a provider's rate limits as capacity", () => {
  it('allows requests per minute, freeing room as the window slides', () => {
    const w = createRateWindow({ requestsPerMinute: 3 });
    expect(w.room(0)).toBe(3);
    w.record(0, 100);
    w.record(10_000, 100);
    w.record(20_000, 100);
    expect(w.room(30_000)).toBe(0);
    expect(w.nextFreeAtMs(30_000)).toBe(60_000);
    expect(w.room(60_000)).toBe(1);
  });
  it('counts tokens (prompt + max_tokens) at the mean size of recent requests', () => {
    const w = createRateWindow({ tokensPerMinute: 1_000 });
    w.record(0, 300);
    w.record(0, 300);
    // 400 tokens left, 300 a request: one more.
    expect(w.room(1)).toBe(1);
    w.record(1, 300);
    expect(w.room(2)).toBe(0);
    expect(createRateWindow({}).room(0)).toBe(Infinity);
  });
});
