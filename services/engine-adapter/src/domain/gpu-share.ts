/**
 * GPU time of the requests one engine runs, apportioned from the engine's own running count:
 * between two moments the engine's GPU worked the whole interval, shared equally by every
 * sequence it ran, so each of ours accrues `dt / max(engine running, ours running)`. Without
 * engine metrics the divisor is our own count (an engine nobody else uses). Real ms.
 */
export interface GpuShare {
  /** The engine's running count as last scraped. */
  observe(nowMs: number, engineRunning: number): void;
  start(key: string, nowMs: number): void;
  /** Stops accruing for `key` and returns its GPU ms (0 for a key never started). */
  finish(key: string, nowMs: number): number;
}

export function createGpuShare(startMs: number): GpuShare {
  const accrued = new Map<string, number>();
  let lastMs = startMs;
  let engineRunning = 0;
  const accrue = (nowMs: number) => {
    const dt = Math.max(0, nowMs - lastMs);
    lastMs = Math.max(lastMs, nowMs);
    if (dt === 0 || accrued.size === 0) return;
    const share = dt / Math.max(engineRunning, accrued.size);
    for (const [key, ms] of accrued) accrued.set(key, ms + share);
  };
  return {
    observe(nowMs, running) {
      accrue(nowMs);
      engineRunning = Math.max(0, running);
    },
    start(key, nowMs) {
      accrue(nowMs);
      accrued.set(key, 0);
    },
    finish(key, nowMs) {
      accrue(nowMs);
      const ms = accrued.get(key) ?? 0;
      accrued.delete(key);
      return ms;
    },
  };
}
