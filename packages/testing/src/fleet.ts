import type { PoolSpec } from '@switchyard/config';
import { encodeHeartbeat, heartbeatKey } from '@switchyard/contracts';

/**
 * One on-demand H100 pool of one 8B worker serving every tier; `overrides` change any field.
 * For a provider pool priced per token, pass `kind: 'provider'`, `tokenPrices` and
 * `pricePerGpuHour: undefined` (token prices win either way; a pools file may not set both).
 */
export const testPool = (overrides: Partial<PoolSpec> & Pick<PoolSpec, 'id'>): PoolSpec => ({
  provider: 'aws',
  region: 'eu-west-1',
  gpu: 'h100-80gb',
  model: 'llama-3.1-8b',
  workers: 1,
  capacityClass: 'on-demand',
  pricePerGpuHour: 4,
  tiers: ['realtime', 'internal', 'batch'],
  slotsPerWorker: 64,
  ...overrides,
});

/**
 * The `pools` KV entry of an idle, healthy worker of `pool`, as the worker simulator writes it
 * every second: for tests of the scheduler and batcher that run without simulated GPUs.
 */
export const idleHeartbeat = (pool: PoolSpec, worker: string, nowMs: number): { key: string; value: Uint8Array } => ({
  key: heartbeatKey(pool.id, worker),
  value: encodeHeartbeat({
    pool: pool.id,
    worker,
    running: 0,
    waiting: 0,
    freeSlots: pool.slotsPerWorker,
    kvUsed: 0,
    stepMs: 20,
    ttftMs: 50,
    draining: false,
    atUnixMs: nowMs,
  }),
});

/** Where heartbeats go: the `pools` KV bucket, typed by what is used so no NATS client is needed here. */
export interface HeartbeatBucket {
  put(key: string, value: Uint8Array): Promise<unknown>;
}

/**
 * Announces `worker` of `pool` idle and healthy now, then every `everyMs` (default 500, twice
 * the simulator's rate so a slow test never lets it lapse) until `stop()`.
 */
export async function keepWorkerIdle(bucket: HeartbeatBucket, pool: PoolSpec, worker = 'w-0', everyMs = 500): Promise<{ stop(): void }> {
  const beat = () => {
    const { key, value } = idleHeartbeat(pool, worker, Date.now());
    return bucket.put(key, value);
  };
  await beat();
  const timer = setInterval(() => void beat().catch(() => {}), everyMs);
  return { stop: () => clearInterval(timer) };
}
