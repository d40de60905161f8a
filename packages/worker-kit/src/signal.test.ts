import { describe, expect, it, vi } from 'vitest';
import { createSignal } from './intake.js';

describe('signal', () => {
  it('lets go of a wait that timed out, so a loop that is never woken holds nothing (one worker idle a day kept 86,400)', async () => {
    vi.useFakeTimers();
    try {
      const signal = createSignal();
      for (let i = 0; i < 1_000; i++) {
        const waited = signal.wait(1_000);
        await vi.advanceTimersByTimeAsync(1_000);
        await waited;
      }
      expect(signal.waiting).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('wakes every waiter at once on notify, before their timeouts', async () => {
    vi.useFakeTimers();
    try {
      const signal = createSignal();
      let woken = 0;
      const waits = Array.from({ length: 3 }, () => signal.wait(60_000).then(() => woken++));
      expect(signal.waiting).toBe(3);
      signal.notify();
      await Promise.all(waits);
      expect(woken).toBe(3);
      expect(signal.waiting).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
