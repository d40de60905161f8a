import { describe, expect, it } from 'vitest';
import { memoryGrowth } from './memory-growth.js';

const every5s = (minutes: number, mb: (atMs: number) => number) =>
  Array.from({ length: (minutes * 60) / 5 + 1 }, (_, i) => ({ atMs: i * 5_000, mb: mb(i * 5_000) }));
/** Where the young generation stands at a sample: 0-30 MB, at no fixed phase (a low-discrepancy sequence). */
const young = (atMs: number) => (((atMs / 5_000) * 0.618034) % 1) * 30;

describe('memory growth of a soaked process', () => {
  it('reads a sawtooth around a flat level as no growth, whichever samples the ends fall on', () => {
    // 80 MB with the young generation adding 0-30 MB; the last sample is 25 MB above the first.
    const samples = every5s(14, (atMs) => 80 + young(atMs));
    expect(samples.at(-1)!.mb - samples[0]!.mb).toBeGreaterThan(20);
    expect(Math.abs(memoryGrowth(samples, 0)!.growth)).toBeLessThan(0.05);
  });

  it('finds a steady climb under the sawtooth', () => {
    // 1 MB a minute from 80 MB over 14 minutes, with the same sawtooth.
    const g = memoryGrowth(
      every5s(14, (atMs) => 80 + atMs / 60_000 + young(atMs)),
      0,
    )!;
    expect(g.growth).toBeGreaterThan(0.1);
    // The medians sit a window's middle from either end: 14 - 2 minutes apart.
    expect(g.last.mb - g.base.mb).toBeGreaterThan(10);
    expect(g.last.mb - g.base.mb).toBeLessThan(14);
  });

  it('starts at fromMs and needs two whole minutes after it', () => {
    const samples = every5s(10, (atMs) => (atMs < 5 * 60_000 ? 200 : 100));
    expect(memoryGrowth(samples, 5 * 60_000)!.growth).toBe(0);
    expect(memoryGrowth(samples, 6.5 * 60_000)).toBeUndefined();
  });
});
