import { Counter, Histogram, type Registry } from '@switchyard/telemetry';

export function createBatcherMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  return {
    batchSize: new Histogram({
      name: 'switchyard_batch_requests',
      help: 'Requests per batch',
      labelNames: ['pool'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    batchTokens: new Histogram({
      name: 'switchyard_batch_prompt_tokens',
      help: 'Prompt tokens per batch',
      labelNames: ['pool'],
      buckets: [128, 512, 2048, 8192, 32768],
      registers,
    }),
    queueWait: new Histogram({
      name: 'switchyard_batcher_queue_wait_seconds',
      help: 'Time from dispatch to batch, per tier',
      labelNames: ['pool', 'tier'],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers,
    }),
    affine: new Counter({
      name: 'switchyard_batcher_worker_handoffs_total',
      help: 'Requests handed to the one worker expected to hold their prompt prefix',
      labelNames: ['pool'],
      registers,
    }),
    affinityFallbacks: new Counter({
      name: 'switchyard_batcher_affinity_fallbacks_total',
      help: 'Requests placed for a worker that was gone, draining or full, handed to the whole pool instead',
      labelNames: ['pool'],
      registers,
    }),
    moved: new Counter({
      name: 'switchyard_batcher_moved_batches_total',
      help: "Batches moved from a worker's own queue to its pool because the worker died, stopped or drained",
      labelNames: ['pool'],
      registers,
    }),
    expired: new Counter({ name: 'switchyard_batcher_expired_total', help: 'Requests expired in the queue', labelNames: ['pool', 'tier'], registers }),
  };
}

export type BatcherMetrics = ReturnType<typeof createBatcherMetrics>;
