import { randomUUID } from 'node:crypto';
import { publishTerminal, terminalOf, type JetStreamClient, type KV } from '@switchyard/bus';
import { Outcome, tierName, type RequestSpec, type WorkerHeartbeat } from '@switchyard/contracts';
import { formBatch, type Capacity, type FormingRules, type Queued } from './batch-forming.js';
import { handOff } from './handoff.js';
import type { BatcherMetrics } from './metrics.js';

interface Waiting extends Queued {
  readonly spec: RequestSpec;
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
  readonly onError: (e: unknown) => void;
}

/** Requests sent since the workers last reported, not yet visible in their free slots. */
interface InFlight {
  readonly atUnixMs: number;
  readonly requests: number;
  readonly kvTokens: number;
}

/**
 * One pool's queue: dispatched requests wait here (their messages unacked) until a batch
 * forms for capacity the workers announced; one hand-off runs at a time.
 */
export function createPoolQueue(deps: PoolQueueDeps) {
  let queue: Waiting[] = [];
  let inFlight: InFlight[] = [];
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const capacity = (): Capacity => {
    const beats = deps.heartbeats();
    if (beats.length === 0) return { freeSlots: 0, freeKvTokens: 0 };
    const oldest = Math.min(...beats.map((b) => b.atUnixMs));
    inFlight = inFlight.filter((f) => f.atUnixMs >= oldest);
    const sent = inFlight.reduce((a, f) => ({ requests: a.requests + f.requests, kv: a.kv + f.kvTokens }), { requests: 0, kv: 0 });
    const slots = beats.reduce((a, b) => a + b.freeSlots, 0);
    const kv = beats.reduce((a, b) => a + (b.freeKvTokens ?? Number.POSITIVE_INFINITY), 0);
    return { freeSlots: Math.max(0, slots - sent.requests), freeKvTokens: Math.max(0, kv - sent.kv) };
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
        const forming = formBatch(queue, capacity(), deps.rules, now);
        const leaving = new Set([...forming.batch, ...forming.expired]);
        queue = queue.filter((q) => !leaving.has(q));
        for (const q of forming.expired) {
          deps.metrics.expired.inc({ pool: deps.pool, tier: q.tier });
          publishTerminal(deps.js, terminalOf({ requestId: q.requestId, tenant: q.spec.tenant, outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed while queued for a GPU', pool: deps.pool }), now)
            .then(() => q.done(), q.done);
        }
        if (forming.batch.length > 0) {
          const batch = forming.batch;
          const kvTokens = batch.reduce((a, q) => a + q.promptTokens + q.maxTokens, 0);
          inFlight.push({ atUnixMs: now, requests: batch.length, kvTokens });
          deps.metrics.batchSize.observe({ pool: deps.pool }, batch.length);
          deps.metrics.batchTokens.observe({ pool: deps.pool }, batch.reduce((a, q) => a + q.promptTokens, 0));
          for (const q of batch) deps.metrics.queueWait.observe({ pool: deps.pool, tier: q.tier }, (now - q.enqueuedUnixMs) / 1000);
          try {
            await handOff(deps.js, deps.batchingKv, deps.pool, `batch-${randomUUID()}`, batch.map((q) => q.spec), now);
            batch.forEach((q) => q.done());
          } catch (e) {
            deps.onError(e);
            batch.forEach((q) => q.done(e));
          }
        }
        schedule(forming.nextCheckMs === 0 ? 1 : forming.nextCheckMs);
      } while (again);
    } finally {
      running = false;
    }
  }

  return {
    /** Queues a dispatched request; resolves when it was handed off or expired. */
    enqueue(spec: RequestSpec, working: () => void): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        // A redelivered copy of a request still queued rides along with the first one.
        const twin = queue.find((q) => q.requestId === spec.requestId);
        if (twin) {
          const first = twin.done;
          queue[queue.indexOf(twin)] = { ...twin, done: (e) => (first(e), e ? reject(e) : resolve()) };
          return;
        }
        queue.push({
          spec,
          working,
          requestId: spec.requestId,
          tier: tierName(spec.tier) ?? 'batch',
          deadlineUnixMs: spec.deadlineUnixMs,
          promptTokens: spec.promptTokens,
          maxTokens: spec.maxTokens,
          enqueuedUnixMs: deps.now(),
          done: (e) => (e ? reject(e) : resolve()),
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
