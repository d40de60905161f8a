import { describe, expect, it } from 'vitest';
import { createGpuShare } from './gpu-share.js';

describe('GPU time apportioned from the engine', () => {
  it("splits each interval among everything the engine runs, ours and others'", () => {
    const share = createGpuShare(0);
    share.start('a', 0);
    share.observe(0, 4);
    share.start('b', 1_000);
    // 0..1000: a with 3 others (engine runs 4): 250 ms; 1000..2000: a and b of 4: 250 ms each.
    expect(share.finish('a', 2_000)).toBeCloseTo(500);
    share.observe(2_000, 1);
    // 2000..3000: b alone.
    expect(share.finish('b', 3_000)).toBeCloseTo(1_250);
    expect(share.finish('never', 3_000)).toBe(0);
  });
  it('uses our own count when the engine reports fewer (no metrics, or a stale scrape)', () => {
    const share = createGpuShare(0);
    share.start('a', 0);
    share.start('b', 0);
    expect(share.finish('a', 1_000)).toBeCloseTo(500);
  });
});
