import type { DurablePuller, JetStreamClient, KV, NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { encodeHeartbeat, heartbeatKey, type WorkerFault, type WorkerFaultReply } from '@switchyard/contracts';
import type { PerfModel } from '@switchyard/perf-model';
import type { Logger } from '@switchyard/telemetry';
import { createEngine, type Engine, type StepReport } from './domain/engine.js';
import { startStepLoop, type StepLoop } from './step-loop.js';
import { NO_FAULTS, activeFaults, applyFault, type Faults } from './domain/faults.js';
import { createBatchTracker, createChunkOutbox, createIntake, type BatchTracker, type Intake, type OutputDeps } from '@switchyard/worker-kit';
import type { SimClock } from './domain/sim-clock.js';
import { createRecentStats } from './domain/recent-stats.js';
import { createServing, type Serving } from './serving.js';
import { faultReplyOf, heartbeatOf, type WorkerSnapshot } from './domain/worker-report.js';
import { createKvEvents } from './kv-events.js';

export interface WorkerDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  /** The worker's own batches (those it holds the prefixes of) and its pool's. */
  readonly pullers: readonly DurablePuller[];
  readonly pool: PoolSpec;
  readonly workerId: string;
  readonly logger: Logger;
  readonly perf: PerfModel;
  /** This worker's simulated time (each worker has its own GPU and its own clock). */
  readonly clock: SimClock;
  /** Tokens per chunk sent to the inbox. Default 4. */
  readonly chunkTokens?: number;
  /** The batches consumer's ack wait. Default 30,000. */
  readonly ackWaitMs?: number;
  /** Real ms between heartbeats. Default 1,000. */
  readonly heartbeatMs?: number;
  /** Uniform [0, 1) draws for injected error rates and cuts. Default `Math.random`. */
  readonly random?: () => number;
  /** Real Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  readonly onStep?: (step: StepReport) => void;
  /** Whether the caller already cancelled a request (cancels may arrive before the batch). */
  readonly wasCancelled?: (requestId: string) => boolean;
}

/** One incarnation of the worker: a crash ends it, a restart begins a fresh one with an empty GPU. */
interface Life {
  readonly engine: Engine;
  readonly batches: BatchTracker;
  readonly intake: Intake;
  readonly serving: Serving;
  readonly loop: StepLoop;
  readonly beat: NodeJS.Timeout;
}

/**
 * One simulated GPU worker: pulls batches while it has room, runs them through its
 * continuous-batching engine in simulated time, streams tokens, records usage and outcomes,
 * heartbeats its load, and takes injected faults.
 */
export function createWorker(deps: WorkerDeps) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const ackWaitMs = deps.ackWaitMs ?? 30_000;
  const { pool, workerId, clock, logger } = deps;
  const out: OutputDeps = { nc: deps.nc, js: deps.js, pool: pool.id, workerId, now, outbox: createChunkOutbox(deps.nc) };
  const stats = createRecentStats();
  let faults: Faults = NO_FAULTS;
  let current: Life | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  const active = () => activeFaults(faults, now());
  const kvEvents = createKvEvents(deps.nc, pool.id, workerId, () => current?.engine.cachedPrefixes() ?? []);

  function room(life: Life): number {
    const a = active();
    if (life !== current || stopping || a.crashed || a.draining) return 0;
    const load = life.engine.load();
    return load.kvUsed >= 0.95 ? 0 : load.freeSlots;
  }

  const snapshot = (life: Life | undefined): WorkerSnapshot => ({
    pool: pool.id,
    worker: workerId,
    load: life?.engine.load(),
    faults: active(),
    stopping,
    stepMs: stats.stepMs(),
    ttftMs: stats.ttftMs(),
    sinceStepMs: life ? clock.now() - life.loop.cursor : 0,
    nowMs: now(),
  });

  function heartbeat(life: Life) {
    if (life !== current) return;
    deps.poolsKv
      .put(heartbeatKey(pool.id, workerId), encodeHeartbeat(heartbeatOf(snapshot(life))))
      .catch((e: unknown) => logger.warn({ err: e }, 'heartbeat failed'));
  }

  function begin(): void {
    const engine = createEngine({
      perf: deps.perf,
      kvCapacityTokens: deps.perf.kvCapacityTokens(),
      maxRunning: pool.slotsPerWorker,
      maxBatchTokens: pool.maxBatchTokens,
    });
    const batches = createBatchTracker({ ackWaitMs });
    const life: Life = {
      engine,
      batches,
      intake: createIntake({
        pullers: deps.pullers,
        room: () => room(life),
        // A batch pulled by a life that has since crashed is left unacked, as a dead process would.
        accept: (m) => {
          if (life !== current) return;
          life.serving.accept(m);
          life.loop.wake();
        },
        onError: (e, context) => logger.error({ err: e }, context),
      }),
      serving: createServing({
        engine,
        batches,
        out,
        logger,
        model: pool.model,
        chunkTokens: deps.chunkTokens ?? 4,
        faults: active,
        random,
        now,
        wasCancelled: deps.wasCancelled ?? (() => false),
        arrivalMs: () => life.loop.arrivalMs(),
        fromReal: clock.fromReal,
        onCompleted: (r) => {
          if (r.firstTokenMs !== undefined) stats.ttft(r.firstTokenMs - r.arrivalMs);
          life.intake.wake();
        },
      }),
      loop: startStepLoop({
        engine,
        clock,
        hung: () => active().hung,
        slowdown: () => active().slowdown,
        onStep: (step) => {
          stats.step(step.durationMs);
          life.batches.progressed();
          deps.onStep?.(step);
          life.serving.apply(step);
          kvEvents.changed(engine.takePrefixChanges());
        },
      }),
      beat: setInterval(() => heartbeat(life), deps.heartbeatMs ?? 1_000),
    };
    current = life;
    life.loop.done.catch((e: unknown) => logger.error({ err: e }, 'worker loop failed'));
    life.intake.start();
    // A new engine holds nothing: whatever an earlier life cached is gone.
    kvEvents.snapshot();
    heartbeat(life);
  }

  /** Dies like a killed process: stops pulling and beating, keeps no state, acks and naks nothing. */
  function crash(): void {
    const life = current;
    if (!life) return;
    current = undefined;
    life.intake.abandon();
    life.batches.dropAll();
    life.batches.dispose();
    clearInterval(life.beat);
    void life.loop.stop();
    logger.warn({ dropped: life.engine.load() }, 'worker crashed (injected)');
    // What a host's GPU accounting still sees of a dead worker: the GPU time its lost attempts
    // spent, recorded as failed attempts (the platform's cost, never the tenant's).
    void life.serving.abandon(life.loop.cursor);
    const restartIn = faults.restartAtMs - now();
    if (Number.isFinite(restartIn)) restartTimer = setTimeout(restart, Math.max(0, restartIn));
  }

  function restart(): void {
    clearTimeout(restartTimer);
    if (current || stopping) return;
    faults = NO_FAULTS;
    begin();
    logger.info('worker restarted');
  }

  const state = (error = ''): WorkerFaultReply => faultReplyOf(snapshot(current), error);

  return {
    id: workerId,
    pool: pool.id,
    start: async () => {
      kvEvents.start();
      begin();
    },
    /** Faults in force and load, as a fault command's reply gives them. */
    status: () => state(),
    /** Applies an operator's command and returns the worker's state after it. */
    fault(command: WorkerFault): WorkerFaultReply {
      try {
        faults = applyFault(faults, command, now());
      } catch (e) {
        return state(e instanceof Error ? e.message : String(e));
      }
      const a = active();
      if (a.crashed) crash();
      else if (!current && !stopping) restart();
      current?.loop.wake();
      current?.intake.wake();
      logger.info({ fault: command, state: state() }, 'fault command applied');
      return state();
    },
    /** Stops generating a request the caller gave up on, ending it CANCELLED. */
    cancel(requestId: string): boolean {
      return current?.serving.cancel(requestId, current.loop.cursor) ?? false;
    },
    /**
     * Takes nothing new, lets in-flight requests finish for up to `graceMs` (default 5,000), then
     * hands the rest back to the stream for other workers and removes its heartbeat.
     */
    async stop(graceMs = 5_000) {
      stopping = true;
      clearTimeout(restartTimer);
      const life = current;
      if (life) {
        await life.intake.stop();
        const deadline = Date.now() + graceMs;
        while (life.batches.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        life.batches.handBackAll();
        life.batches.dispose();
        current = undefined;
        clearInterval(life.beat);
        await life.loop.stop();
        // Attempts handed back run again elsewhere; the GPU time they spent here is the platform's.
        await life.serving.abandon(life.loop.cursor);
      }
      kvEvents.stop();
      await deps.poolsKv.delete(heartbeatKey(pool.id, workerId)).catch(() => {});
    },
  };
}

export type Worker = ReturnType<typeof createWorker>;
