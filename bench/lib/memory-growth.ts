/** One memory sample of a process: when (ms since the run began) and how much. */
export interface MemorySample {
  readonly atMs: number;
  readonly mb: number;
}

export interface MemoryGrowth {
  /** The high-water mark of the first half of the span past `fromMs`, and when that half began. */
  readonly base: MemorySample;
  /** The high-water mark of the second half, and when that half (and the span) ended. */
  readonly last: MemorySample;
  /** (last - base) / base. */
  readonly growth: number;
}

/** Each half must span two minutes at least: many young-generation cycles, most of an old-generation one. */
const MIN_HALF_MS = 120_000;

/**
 * How much a process's memory grew past `fromMs`: the highest sample of the second half of the
 * span against the highest of the first. Resident memory under steady load is a sawtooth, not a
 * level: the young generation adds and drops tens of MB between scavenges, and the old
 * generation fills to twice the live heap before a full collection gives pages back, a tooth
 * of 80-120 MB every 4-6 minutes in the soak's billing and metering. A median of two minutes
 * read that as +15% or -10% depending on where in the tooth its window fell; the high-water
 * mark of each half is the top of a tooth in both, and a leak raises it. Undefined when the
 * samples do not span four minutes past `fromMs`.
 */
export function memoryGrowth(samples: readonly MemorySample[], fromMs: number): MemoryGrowth | undefined {
  const after = samples.filter((s) => s.atMs >= fromMs);
  if (after.length < 2) return undefined;
  const start = after[0]!.atMs;
  const end = after.at(-1)!.atMs;
  if (end - start < 2 * MIN_HALF_MS) return undefined;
  const middle = (start + end) / 2;
  const highest = (xs: readonly MemorySample[]) => Math.max(...xs.map((s) => s.mb));
  const base = { atMs: start, mb: highest(after.filter((s) => s.atMs < middle)) };
  const last = { atMs: end, mb: highest(after.filter((s) => s.atMs >= middle)) };
  return { base, last, growth: (last.mb - base.mb) / base.mb };
}
