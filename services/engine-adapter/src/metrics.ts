import { Counter, Gauge, Histogram, type Registry } from '@switchyard/telemetry';
import type { EngineMetrics } from './domain/engine-metrics.js';

/**
 * What an operator watches of the engines behind the pools, labelled by pool and upstream
 * (`u<index>` of the pool's baseUrls): how calls end, which failures, breakers, 429 pauses,
 * and the engines' own queue and cache as scraped.
 */
export function createAdapterMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['pool', 'upstream'] as const;
  return {
    calls: new Counter({
      name: 'switchyard_adapter_calls_total',
      help: 'Upstream calls by how they ended: completed, failed, replaced (failed before the first token and handed back), cancelled',
      labelNames: [...labelNames, 'result'],
      registers,
    }),
    failures: new Counter({
      name: 'switchyard_adapter_upstream_failures_total',
      help: 'Upstream failures by kind: rate-limited, http, timeout, connection, stream-error',
      labelNames: [...labelNames, 'kind'],
      registers,
    }),
    circuitOpen: new Gauge({ name: 'switchyard_adapter_circuit_open', help: '1 while the upstream is out of placement after failures', labelNames, registers }),
    paused: new Gauge({ name: 'switchyard_adapter_rate_limited', help: "1 while a 429's retry-after holds new calls back", labelNames, registers }),
    engineRunning: new Gauge({
      name: 'switchyard_adapter_engine_running',
      help: 'Requests the engine reports running (all its clients)',
      labelNames,
      registers,
    }),
    engineWaiting: new Gauge({
      name: 'switchyard_adapter_engine_waiting',
      help: 'Requests the engine reports queued (all its clients)',
      labelNames,
      registers,
    }),
    engineKvUsed: new Gauge({ name: 'switchyard_adapter_engine_kv_used_ratio', help: "Share of the engine's KV cache in use, 0..1", labelNames, registers }),
    ttft: new Histogram({
      name: 'switchyard_adapter_ttft_seconds',
      help: 'Time from sending a request upstream to its first token',
      labelNames,
      registers,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
}

export type AdapterMetrics = ReturnType<typeof createAdapterMetrics>;

/** The metrics of one upstream, its labels bound. */
export function upstreamMetrics(m: AdapterMetrics | undefined, pool: string, upstream: string) {
  const l = { pool, upstream };
  return {
    call: (result: 'completed' | 'failed' | 'replaced' | 'cancelled') => m?.calls.inc({ ...l, result }),
    failure: (kind: string) => m?.failures.inc({ ...l, kind }),
    circuit: (open: boolean) => m?.circuitOpen.set(l, open ? 1 : 0),
    paused: (on: boolean) => m?.paused.set(l, on ? 1 : 0),
    engine: (e: EngineMetrics | undefined) => {
      m?.engineRunning.set(l, e?.running ?? 0);
      m?.engineWaiting.set(l, e?.waiting ?? 0);
      m?.engineKvUsed.set(l, e?.kvUsed ?? 0);
    },
    ttft: (ms: number) => m?.ttft.observe(l, ms / 1000),
  };
}

export type UpstreamMetrics = ReturnType<typeof upstreamMetrics>;
