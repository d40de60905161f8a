import { describe, expect, it } from 'vitest';
import { memoryGrowth } from './memory-growth.js';

const every5s = (minutes: number, mb: (atMs: number) => number) =>
  Array.from({ length: (minutes * 60) / 5 + 1 }, (_, i) => ({ atMs: i * 5_000, mb: mb(i * 5_000) }));
/** Where the young generation stands at a sample: 0-15 MB, at no fixed phase (a low-discrepancy sequence). */
const young = (atMs: number) => (((atMs / 5_000) * 0.618034) % 1) * 15;
/** The old generation filling from 80 to 120 MB over 5 minutes, then a full collection giving it back; `phase` shifts the teeth. */
const oldGen = (phaseMs: number) => (atMs: number) => 80 + (((atMs + phaseMs) % 300_000) / 300_000) * 40;

describe('memory growth of a soaked process', () => {
  it('reads a sawtooth around a flat level as no growth, wherever the teeth fall', () => {
    for (const phase of [0, 60_000, 150_000, 240_000]) {
      const samples = every5s(9, (atMs) => oldGen(phase)(atMs) + young(atMs));
      expect(Math.abs(memoryGrowth(samples, 0)!.growth), `phase ${phase / 1000} s`).toBeLessThan(0.05);
    }
  });

  it('finds a leak of 5 MB a minute under the sawtooth, wherever the teeth fall (the tops of the halves are ~4.5 minutes apart)', () => {
    for (const phase of [0, 60_000, 150_000, 240_000]) {
      const samples = every5s(9, (atMs) => oldGen(phase)(atMs) + young(atMs) + (5 * atMs) / 60_000);
      expect(memoryGrowth(samples, 0)!.growth, `phase ${phase / 1000} s`).toBeGreaterThan(0.1);
    }
  });

  it('reads memory that rose to a level in the first half and held as no growth, and one that rose in the second as growth', () => {
    // The worker's young generation: swinging 80-120 MB, then flat at 126 MB.
    const settles = (atMs: number) => (atMs < 3 * 60_000 ? 80 + young(atMs) * 2.6 : 126);
    expect(Math.abs(memoryGrowth(every5s(9, settles), 0)!.growth)).toBeLessThan(0.05);
    const settlesLate = (atMs: number) => (atMs < 6 * 60_000 ? 80 + young(atMs) * 2 : 126);
    expect(memoryGrowth(every5s(9, settlesLate), 0)!.growth).toBeGreaterThan(0.1);
  });

  it('starts at fromMs and needs four whole minutes after it', () => {
    const samples = every5s(10, (atMs) => (atMs < 5 * 60_000 ? 200 : 100));
    expect(memoryGrowth(samples, 5 * 60_000)!.growth).toBe(0);
    expect(memoryGrowth(samples, 6.5 * 60_000)).toBeUndefined();
  });
});
