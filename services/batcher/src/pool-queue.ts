import { randomUUID } from 'node:crypto';
import { publishTerminal, terminalOf, type JetStreamClient, type KV } from '@switchyard/bus';
import { Outcome, tierName, type RequestSpec, type WorkerHeartbeat } from '@switchyard/contracts';
import { formBatch, type Capacity, type FormingRules, type Queued } from './domain/batch-forming.js';
import { createTenantTurns } from './domain/tenant-turns.js';
import { createPoolRoom } from './domain/pool-room.js';
import { endSpan, SpanKind, startSpan, traceparentOf, type Span } from '@switchyard/telemetry';
import { handOff } from './handoff.js';
import { splitByWorker, takesOwnBatches, type Affine } from './domain/worker-affinity.js';
import type { BatcherMetrics } from './metrics.js';

interface Waiting extends Queued, Affine {
  readonly spec: RequestSpec;
  /** `batcher.form`: from queued to handed off (or expired), in the request's trace. */
  readonly span: Span;
  /** Settles the dispatch message: ack once handed off or expired, nak on failure. */
  readonly done: (error?: unknown) => void;
  readonly working: () => void;
}

export interface PoolQueueDeps {
  readonly js: JetStreamClient;
  readonly batchingKv: KV;
  readonly pool: string;
  readonly rules: FormingRules;
  readonly metrics: BatcherMetrics;
  readonly now: () => number;
  /** Fresh heartbeats of this pool's workers. */
  readonly heartbeats: () => WorkerHeartbeat[];
  /** Batches published for this pool that no worker had pulled yet, as of when the server was asked (Unix ms). */
  readonly undelivered: () => Promise<{ readonly batches: number; readonly asOfMs: number }>;
  /** Batches handed to one worker of this pool that it has not pulled yet. */
  readonly workerUndelivered: (worker: string) => Promise<number>;
  /** Called when a batch goes to one worker's own queue. */
  readonly onWorkerHandOff?: () => void;
  readonly onError: (e: unknown) => void;
}

/**
 * One pool's queue: dispatched requests wait here (their messages unacked) until a batch
 * forms for capacity the workers announced; one hand-off runs at a time.
 */
export function createPoolQueue(deps: PoolQueueDeps) {
  let queue: Waiting[] = [];
  /** The tenants of each tier take turns in this queue (start-time fair queuing). */
  const turns = createTenantTurns();
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  /** What the pool can take between heartbeats (see `createPoolRoom`). */
  const poolRoom = createPoolRoom(deps.rules.preferredSize);

  /**
   * Workers pull batches only when they have room, so a batch nobody pulled yet means the
   * pool is full: then nothing more is sent and requests wait here, in priority and turn
   * order. Heartbeats (once a second) and what the workers pulled since bound the batch size;
   * heartbeats bound the KV-cache tokens it may use.
   */
  const capacity = async (): Promise<Capacity> => {
    const beats = deps.heartbeats();
    const { batches, asOfMs } = await deps.undelivered();
    const slots = poolRoom.room(beats, batches, asOfMs, deps.now());
    if (slots <= 0) return { freeSlots: 0, freeKvTokens: 0 };
    return { freeSlots: slots, freeKvTokens: beats.reduce((a, b) => a + (b.freeKvTokens ?? Number.POSITIVE_INFINITY), 0) };
  };

  /** Per worker, prompt tokens handed to it since its heartbeat (`atUnixMs`) last counted its prefill queue. */
  const handed = new Map<string, { atUnixMs: number; tokens: number }>();

  /**
   * The prompt work queued on each worker that could take a request now (fresh, not draining,
   * a free slot): its heartbeat's, plus what was handed to it since. A worker named in `batch`
   * that left a batch of its own unpulled is full and left out.
   */
  const backlogs = async (batch: readonly Waiting[]): Promise<Map<string, number>> => {
    const named = new Set(batch.flatMap((q) => (q.worker ? [q.worker] : [])));
    const backlog = new Map<string, number>();
    if (named.size === 0) return backlog;
    for (const beat of deps.heartbeats()) {
      if (!takesOwnBatches(beat, named.has(beat.worker) ? await deps.workerUndelivered(beat.worker) : 0)) continue;
      const since = handed.get(beat.worker);
      backlog.set(beat.worker, (beat.prefillTokens ?? 0) + (since?.atUnixMs === beat.atUnixMs ? since.tokens : 0));
    }
    return backlog;
  };

  /** Counts what a worker was just handed against its heartbeat. */
  const hand = (worker: string, group: readonly Waiting[]) => {
    const atUnixMs = deps.heartbeats().find((h) => h.worker === worker)?.atUnixMs ?? 0;
    const since = handed.get(worker);
    const tokens = group.reduce((a, q) => a + Math.max(0, q.promptTokens - q.hitTokens), 0);
    handed.set(worker, { atUnixMs, tokens: (since?.atUnixMs === atUnixMs ? since.tokens : 0) + tokens });
  };

  const schedule = (ms: number | undefined) => {
    clearTimeout(timer);
    if (ms !== undefined) timer = setTimeout(() => void tick(), ms);
  };

  async function tick(): Promise<void> {
    if (running) return void (again = true);
    running = true;
    try {
      do {
        again = false;
        const now = deps.now();
        const forming = formBatch(queue, queue.length ? await capacity() : { freeSlots: 0, freeKvTokens: 0 }, deps.rules, now);
        const leaving = new Set([...forming.batch, ...forming.expired]);
        queue = queue.filter((q) => !leaving.has(q));
        for (const q of forming.expired) {
          deps.metrics.expired.inc({ pool: deps.pool, tier: q.tier });
          publishTerminal(
            deps.js,
            terminalOf({
              requestId: q.requestId,
              tenant: q.spec.tenant,
              outcome: Outcome.OUTCOME_EXPIRED,
              reason: 'deadline passed while queued for a GPU',
              pool: deps.pool,
              tier: q.spec.tier,
              model: q.spec.model,
              feature: q.spec.feature,
            }),
            now,
            q.spec.traceparent,
          ).then(() => q.done(), q.done);
        }
        if (forming.batch.length > 0) {
          const batch = forming.batch;
          deps.metrics.batchSize.observe({ pool: deps.pool }, batch.length);
          deps.metrics.batchTokens.observe(
            { pool: deps.pool },
            batch.reduce((a, q) => a + q.promptTokens, 0),
          );
          for (const q of batch) {
            deps.metrics.queueWait.observe({ pool: deps.pool, tier: q.tier }, (now - q.enqueuedUnixMs) / 1000);
            turns.served(q.tier, q.turn);
          }
          // Requests whose prefix a worker holds go to it while it takes them; the rest to any worker of the pool.
          const groups = splitByWorker(batch, await backlogs(batch));
          for (const [worker, group] of groups) if (worker) hand(worker, group);
          if (groups.size > (groups.has('') ? 1 : 0)) deps.onWorkerHandOff?.();
          await Promise.all(
            [...groups].map(async ([worker, group]) => {
              const batchId = `batch-${randomUUID()}`;
              for (const q of group) {
                if (q.span.isRecording()) {
                  q.span.setAttributes({ 'switchyard.batch_id': batchId, 'switchyard.batch_size': group.length, 'switchyard.worker': worker });
                }
              }
              const fellBack = worker ? 0 : group.filter((q) => q.worker).length;
              if (worker) deps.metrics.affine.inc({ pool: deps.pool }, group.length);
              if (fellBack > 0) deps.metrics.affinityFallbacks.inc({ pool: deps.pool }, fellBack);
              try {
                await handOff(
                  deps.js,
                  deps.batchingKv,
                  deps.pool,
                  batchId,
                  group.map((q) => q.spec),
                  now,
                  worker,
                );
                // A worker's own queue is not the pool's: its pulls are watched by the mover.
                if (!worker) poolRoom.sent(group.length, deps.now());
                group.forEach((q) => q.done());
              } catch (e) {
                deps.onError(e);
                group.forEach((q) => q.done(e));
              }
            }),
          );
        }
        // With requests waiting and no room, look again soon: room appears when workers pull.
        const blocked = forming.batch.length === 0 && queue.length > 0 && forming.nextCheckMs !== undefined;
        schedule(blocked ? Math.min(forming.nextCheckMs!, 20) : forming.nextCheckMs === 0 ? 1 : forming.nextCheckMs);
      } while (again);
    } finally {
      running = false;
    }
  }

  return {
    /** Queues a dispatched request; resolves when it was handed off or expired. */
    enqueue(spec: RequestSpec, working: () => void, worker = '', hitTokens = 0): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        // A redelivered copy of a request still queued rides along with the first one.
        const twin = queue.find((q) => q.requestId === spec.requestId);
        if (twin) {
          const first = twin.done;
          queue[queue.indexOf(twin)] = { ...twin, done: (e) => (first(e), e ? reject(e) : resolve()) };
          return;
        }
        const span = startSpan('batcher.form', spec.traceparent, { kind: SpanKind.CONSUMER });
        if (span.isRecording()) {
          span.setAttributes({
            'switchyard.tenant': spec.tenant,
            'switchyard.request_id': spec.requestId,
            'switchyard.tier': tierName(spec.tier) ?? '',
            'switchyard.model': spec.model,
            'switchyard.pool': deps.pool,
          });
        }
        const traceparent = traceparentOf(span);
        const tier = tierName(spec.tier) ?? 'batch';
        queue.push({
          // The batch carries this span's trace on to the worker; tracing off, the request as it came.
          spec: traceparent ? { ...spec, traceparent } : spec,
          span,
          working,
          requestId: spec.requestId,
          worker,
          hitTokens,
          tenant: spec.tenant,
          tier,
          turn: turns.book(spec.tenant, tier),
          deadlineUnixMs: spec.deadlineUnixMs,
          promptTokens: spec.promptTokens,
          maxTokens: spec.maxTokens,
          enqueuedUnixMs: deps.now(),
          done: (e) => (endSpan(span, e), e ? reject(e) : resolve()),
        });
        void tick();
      });
    },
    /** Capacity may have changed (a heartbeat arrived). */
    poke: () => void tick(),
    /** Keeps long-queued messages from being redelivered while they wait. */
    keepAlive: () => queue.forEach((q) => q.working()),
    get depth() {
      return queue.length;
    },
    stop: () => clearTimeout(timer),
  };
}

export type PoolQueue = ReturnType<typeof createPoolQueue>;
