import type { JetStreamClient, KV, Msg, NatsConnection, Subscription } from '@switchyard/bus';
import { poolKind, type PoolSpec } from '@switchyard/config';
import { filters, subjects, type WorkerFaultReply } from '@switchyard/contracts';
import { createPerfModel, loadProfiles, type GpuProfile, type GpuType } from '@switchyard/perf-model';
import type { Logger } from '@switchyard/telemetry';
import { pullPoolBatches, pullWorkerBatches } from '@switchyard/worker-kit';
import type { StepReport } from './domain/engine.js';
import { parseFaultCommand } from './domain/faults.js';
import { createSimClock, type Speed } from './domain/sim-clock.js';
import { createWorker, type Worker } from './worker.js';

export interface WorkerSimulatorDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  /** Distinguishes this process's workers from other replicas'; letters, digits, "-" and "_". */
  readonly instanceId: string;
  /** Simulated time per real time: 1 real time, 10 ten times faster, 'max' no sleeping. Default 1. */
  readonly speed?: Speed;
  /** Measured step latencies; default: the repository's `deploy/profiles`. */
  readonly profiles?: Record<GpuType, GpuProfile>;
  /** Ack wait of each pool's batches consumer; long outputs extend it while they progress. Default 30,000 ms. */
  readonly ackWaitMs?: number;
  /** Tokens per chunk sent to a request's inbox. Default 4. */
  readonly chunkTokens?: number;
  /** Real ms between heartbeats. Default 1,000. */
  readonly heartbeatMs?: number;
  readonly random?: () => number;
  readonly now?: () => number;
  /**
   * Takes operator fault commands (crash, hang, slowdown, ...) on `ops.worker.<pool>` and
   * `ops.worker.<pool>.<worker>`. Default false: anyone who can publish there could otherwise
   * take workers down, so only tests, benchmarks and deliberate chaos runs turn it on.
   */
  readonly faults?: boolean;
  /** Sees every engine step of every worker (metrics, tests). */
  readonly onStep?: (step: StepReport, worker: { readonly pool: string; readonly id: string }) => void;
}

/** Caller cancellations remembered, so a batch that arrives after its cancel is not run. */
const REMEMBERED_CANCELS = 10_000;
/** Batches of a pool outstanding across every worker of every replica, a backstop to each worker's own room check. */
const MAX_REPLICAS_PER_POOL = 8;

/**
 * Hosts `workers` simulated GPUs for each pool given; several processes may serve one pool,
 * sharing its durable consumer. Each worker has its own engine and simulated clock and, with
 * `faults` on, takes fault commands on `ops.worker.<pool>` and `ops.worker.<pool>.<worker>`.
 */
export function createWorkerSimulator(deps: WorkerSimulatorDeps) {
  const workers: Worker[] = [];
  const subscriptions: Subscription[] = [];
  const cancelled = new Set<string>();
  const ackWaitMs = deps.ackWaitMs ?? 30_000;

  const subscribe = (subject: string, handle: (msg: Msg) => void) => {
    subscriptions.push(
      deps.nc.subscribe(subject, {
        callback: (error, msg) => (error ? deps.logger.error({ err: error, subject }, 'subscription failed') : handle(msg)),
      }),
    );
  };
  /** Applies a fault command and, when it came as a request, answers with the worker's state as JSON. */
  const command = (worker: Worker) => (msg: Msg) => {
    let reply: WorkerFaultReply;
    try {
      reply = worker.fault(parseFaultCommand(msg.data));
    } catch (e) {
      reply = { ...worker.status(), error: e instanceof Error ? e.message : String(e) };
    }
    if (reply.error) deps.logger.warn({ worker: worker.id, error: reply.error }, 'fault command refused');
    if (msg.reply) msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
  };
  const cancel = (msg: Msg) => {
    const requestId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    cancelled.add(requestId);
    if (cancelled.size > REMEMBERED_CANCELS) cancelled.delete(cancelled.values().next().value!);
    for (const w of workers) w.cancel(requestId);
  };

  return {
    async start() {
      const profiles = deps.profiles ?? (await loadProfiles());
      // Pools of real engines are the engine adapter's; this process only hosts simulated GPUs.
      for (const pool of deps.pools.filter((p) => poolKind(p) === 'simulated')) {
        const { rows, meta } = profiles[pool.gpu];
        const perf = createPerfModel(rows, meta, pool.model);
        for (let i = 0; i < pool.workers; i++) {
          const id = `${deps.instanceId}-w${i}`;
          // Pullers of its own: a crash abandons its own pulls, never a sibling's.
          const onError = (e: unknown, context: string) => deps.logger.error({ err: e }, context);
          const pullers = [
            await pullWorkerBatches({ js: deps.js, pool: pool.id, worker: id, ackWaitMs, onError }),
            await pullPoolBatches({
              js: deps.js,
              pool: pool.id,
              ackWaitMs,
              maxAckPending: pool.workers * pool.slotsPerWorker * MAX_REPLICAS_PER_POOL,
              onError,
            }),
          ];
          const worker = createWorker({
            ...deps,
            pullers,
            pool,
            workerId: id,
            perf,
            clock: createSimClock({ speed: deps.speed ?? 1 }),
            ackWaitMs,
            logger: deps.logger.child({ pool: pool.id, worker: id }),
            onStep: deps.onStep && ((step) => deps.onStep!(step, { pool: pool.id, id })),
            wasCancelled: (requestId) => cancelled.has(requestId),
          });
          workers.push(worker);
          if (deps.faults === true) {
            subscribe(subjects.workerControl(pool.id), command(worker));
            subscribe(subjects.workerControl(pool.id, id), command(worker));
          }
        }
      }
      subscribe(filters.allCancels, cancel);
      await Promise.all(workers.map((w) => w.start()));
    },
    async stop() {
      for (const s of subscriptions) s.unsubscribe();
      await Promise.all(workers.map((w) => w.stop()));
    },
    /** The workers this process hosts, as fault commands address them. */
    workers: () => workers.map((w) => ({ pool: w.pool, id: w.id })),
  };
}

export type WorkerSimulator = ReturnType<typeof createWorkerSimulator>;
