import type { StopReason } from './domain/batch-record.js';
import type { BatchStore } from './batch-store.js';

/**
 * Why batches stop, as seen a moment ago: requests waiting for room ask it before they start,
 * so a cancel reaches them within `refreshMs` without each asking Postgres on every wake-up.
 * Only batches asked about in the last few seconds are refreshed.
 */
export function createStopWatch(store: BatchStore, options: { refreshMs?: number; onError?: (e: unknown) => void } = {}) {
  const refreshMs = options.refreshMs ?? 250;
  const reasons = new Map<string, StopReason>();
  const askedAt = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const refresh = async () => {
    const now = Date.now();
    for (const [id, at] of askedAt) if (now - at > 5_000) (askedAt.delete(id), reasons.delete(id));
    if (askedAt.size) {
      try {
        for (const [id, reason] of await store.stopReasons([...askedAt.keys()])) reasons.set(id, reason);
      } catch (e) {
        options.onError?.(e);
      }
    }
    timer = setTimeout(() => void refresh(), refreshMs);
  };
  return {
    start: () => void refresh(),
    stop: () => clearTimeout(timer),
    /** The batch's stop reason as last read; null while it runs (or before its first read). */
    reasonOf(batchId: string): StopReason {
      askedAt.set(batchId, Date.now());
      return reasons.get(batchId) ?? null;
    },
  };
}

export type StopWatch = ReturnType<typeof createStopWatch>;
