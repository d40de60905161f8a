import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Gauge, type Registry } from 'prom-client';

export const LIVE_HEAP_METRIC = 'nodejs_heap_live_bytes';

/**
 * Exports the V8 heap in use right after the latest full (mark-compact) collection: the size
 * of what the process keeps alive. Resident memory and the heap's "used" size also hold
 * garbage not yet collected, and V8 lets the old generation fill for minutes before its first
 * full collection, so they rise under steady load without a leak; this one rises only when
 * the process keeps more. 0 until the first full collection. Returns a stop function.
 */
export function collectLiveHeap(registry: Registry): () => void {
  const gauge = new Gauge({
    name: LIVE_HEAP_METRIC,
    help: 'V8 heap in use right after the latest full (mark-compact) garbage collection: what the process keeps alive (0 before the first one)',
    registers: [registry],
  });
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    // Read when the entry is delivered, a moment after the collection: what was allocated in
    // between is counted too, a rounding error beside a live heap of tens of MB.
    if (major) gauge.set(getHeapStatistics().used_heap_size);
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
