/** What a worker's heartbeat says about its recent past, in simulated ms. */
export interface RecentStats {
  step(ms: number): void;
  ttft(ms: number): void;
  /** Exponentially weighted step time (weight `alpha` on the newest step); 0 before the first. */
  stepMs(): number;
  /** Mean time to first token of the last `window` requests, from reaching the worker; 0 before the first. */
  ttftMs(): number;
}

/**
 * @param alpha weight of the newest step time. Default 0.2: a heartbeat a second apart reflects
 *   the last few dozen steps, so one long prefill does not swing it.
 * @param window requests the TTFT mean covers. Default 32.
 */
export function createRecentStats(alpha = 0.2, window = 32): RecentStats {
  let step: number | undefined;
  const ttfts: number[] = [];
  return {
    step(ms) {
      step = step === undefined ? ms : alpha * ms + (1 - alpha) * step;
    },
    ttft(ms) {
      ttfts.push(ms);
      if (ttfts.length > window) ttfts.shift();
    },
    stepMs: () => step ?? 0,
    ttftMs: () => (ttfts.length === 0 ? 0 : ttfts.reduce((a, b) => a + b, 0) / ttfts.length),
  };
}
