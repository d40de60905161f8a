/** One resident-memory sample of a process: when (ms since the run began) and how much. */
export interface MemorySample {
  readonly atMs: number;
  readonly mb: number;
}

export interface MemoryGrowth {
  /** Median of the first two minutes past `fromMs`, and when they began. */
  readonly base: MemorySample;
  /** Median of the last two minutes sampled, and when they ended. */
  readonly last: MemorySample;
  /** (last - base) / base. */
  readonly growth: number;
}

/** Long enough that a median of samples 5 s apart falls on many young-generation cycles. */
const WINDOW_MS = 120_000;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * How much a process's resident memory grew from the two minutes after `fromMs` to its last
 * two, each taken by its median. A single sample is mostly where the young generation stood:
 * it grows and shrinks by tens of MB between collections (a service's resident memory swung
 * 80-112 MB within a minute in the soak), which read as +18% growth or -23% from one pair of
 * samples. Undefined when the samples do not span four whole minutes past `fromMs`.
 */
export function memoryGrowth(samples: readonly MemorySample[], fromMs: number): MemoryGrowth | undefined {
  const after = samples.filter((s) => s.atMs >= fromMs);
  if (after.length < 2) return undefined;
  const start = after[0]!.atMs;
  const end = after.at(-1)!.atMs;
  if (end - start < 2 * WINDOW_MS) return undefined;
  const first = after.filter((s) => s.atMs < start + WINDOW_MS).map((s) => s.mb);
  const final = after.filter((s) => s.atMs > end - WINDOW_MS).map((s) => s.mb);
  const base = { atMs: start, mb: median(first) };
  const last = { atMs: end, mb: median(final) };
  return { base, last, growth: (last.mb - base.mb) / base.mb };
}
