import type { JetStreamClient, KV, NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import type { Logger } from '@switchyard/telemetry';
import { createWorker, type Worker } from './worker.js';

export interface WorkerSimulatorDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  /** Distinguishes this process's workers from other replicas'. */
  readonly instanceId: string;
  readonly tokenDelayMs: number;
  readonly now?: () => number;
}

/** Hosts `workers` simulated GPUs for each pool given; several processes may serve a pool. */
export function createWorkerSimulator(deps: WorkerSimulatorDeps) {
  const workers: Worker[] = deps.pools.flatMap((pool) =>
    Array.from({ length: pool.workers }, (_, i) =>
      createWorker({ ...deps, pool, workerId: `${deps.instanceId}-w${i}`, logger: deps.logger.child({ pool: pool.id, worker: i }) }),
    ),
  );
  return {
    async start() {
      await Promise.all(workers.map((w) => w.start()));
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

export type WorkerSimulator = ReturnType<typeof createWorkerSimulator>;
