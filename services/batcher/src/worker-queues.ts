import type { JetStreamClient, JetStreamManager } from '@switchyard/bus';
import { deadLetter, publishEvent, removeAckedLeftovers } from '@switchyard/bus';
import { batchFormed, decodeEvent, durables, filters, streams, subjects, type BatchFormed, type Event, type WorkerHeartbeat } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { BatcherMetrics } from './metrics.js';

export interface WorkerQueuesDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly pool: string;
  /** Fresh heartbeats of this pool's workers, draining ones included. */
  readonly heartbeats: () => readonly WorkerHeartbeat[];
  readonly metrics: BatcherMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** A worker silent this long has its durable consumer deleted once its queue is empty. Default 10 min. */
  readonly forgetAfterMs?: number;
}

/**
 * While no worker of the pool has batches of its own (none seen, none handed lately), a sweep
 * reads the stream at most this often: a pool that does not use affinity costs next to nothing.
 */
const QUIET_SWEEP_MS = 5_000;
/** How often the consumers of silent workers are looked at. */
const FORGET_EVERY_MS = 60_000;
/** Batches moved at most per worker and sweep; the next sweep takes the rest. */
const MOVE_AT_ONCE = 256;

/**
 * The fallback of worker affinity: a batch handed to one worker (`batches.<pool>.<worker>`)
 * must not wait for a worker that died, stopped or drained, nor behind a live one that took
 * nothing from its queue between two sweeps. Each sweep moves what such a worker's queue holds
 * back to the whole pool (`batches.<pool>`).
 *
 * It takes the batches through the worker's own durable consumer, so it gets exactly what the
 * worker has not taken: a batch the worker pulled and still runs is left to it, and one it
 * pulled and died with comes back once its ack wait passes, as it would on the pool's queue.
 * A moved batch is re-published under an id derived from its stream sequence (a mover that
 * dies before its ack re-publishes a duplicate JetStream drops), then acked; it carries how
 * often it was delivered, so attempt numbers never repeat. Sweeps by several batcher replicas
 * are safe: a consumer delivers each message to one of them.
 */
export function createWorkerQueues(deps: WorkerQueuesDeps) {
  const forgetAfterMs = deps.forgetAfterMs ?? 600_000;
  const prefix = `${subjects.batches(deps.pool)}.`;
  /** Workers with a consumer of their own and no heartbeat, and since when. */
  const silentSince = new Map<string, number>();
  let lastForget = Number.NEGATIVE_INFINITY;
  let lastRead = Number.NEGATIVE_INFINITY;
  /** Until when every sweep reads the stream: a worker queue was seen or handed a batch lately. */
  let busyUntil = Number.NEGATIVE_INFINITY;
  /** Per live worker with batches waiting: the last stream sequence its consumer had delivered. */
  const lastSeen = new Map<string, number>();

  /**
   * A live worker that took none of its waiting batches since the last sweep is full (or stuck):
   * they go to the pool rather than wait behind the work it has, past a realtime objective.
   */
  async function stalled(worker: string): Promise<boolean> {
    const info = await deps.jsm.consumers.info(streams.BATCHES.name, durables.worker(deps.pool, worker)).catch(() => undefined);
    if (!info || info.num_pending === 0) {
      lastSeen.delete(worker);
      return false;
    }
    const before = lastSeen.get(worker);
    lastSeen.set(worker, info.delivered.stream_seq);
    return before === info.delivered.stream_seq;
  }

  /**
   * Moves the batches `worker` has not taken; with `abandoned`, also those it took and never
   * finished (they come back once their ack wait has passed; until then the fetch waits out
   * its second and gets nothing).
   */
  async function move(worker: string, abandoned: boolean): Promise<number> {
    const durable = durables.worker(deps.pool, worker);
    const info = await deps.jsm.consumers.info(streams.BATCHES.name, durable).catch(() => undefined);
    const waiting = info ? info.num_pending + (abandoned ? info.num_ack_pending : 0) : 0;
    if (waiting === 0) return 0;
    const consumer = await deps.js.consumers.get(streams.BATCHES.name, durable);
    const messages = await consumer.fetch({ max_messages: Math.min(waiting, MOVE_AT_ONCE), expires: 1_000 });
    let moved = 0;
    for await (const m of messages) {
      let formed: BatchFormed | undefined;
      let event: Event | undefined;
      try {
        event = decodeEvent(m.data);
        formed = event.payload?.$case === 'batchFormed' ? event.payload.batchFormed : undefined;
      } catch {
        formed = undefined;
      }
      if (!event || !formed) {
        // No worker could run it here or anywhere: parked with its reason, as a worker would.
        await deadLetter(deps.js, streams.BATCHES.name, durable, m, `not a batch on ${m.subject}`);
        continue;
      }
      await publishEvent(deps.js, subjects.batches(deps.pool), {
        ...event,
        envelope: { ...event.envelope!, id: `${formed.batchId}@moved-${m.seq}` },
        payload: {
          $case: 'batchFormed',
          batchFormed: batchFormed({ ...formed, worker: '', earlierDeliveries: formed.earlierDeliveries + m.info.deliveryCount }),
        },
      });
      m.ack();
      moved++;
      if (moved >= waiting) break;
    }
    return moved;
  }

  return {
    /** A batch was just handed to a worker's own queue: sweep at full pace for a while. */
    handed(): void {
      busyUntil = deps.now() + QUIET_SWEEP_MS;
    },
    /** Moves the queues of this pool's workers that are gone, draining or stalled; returns batches moved. */
    async sweep(): Promise<number> {
      if (deps.now() < lastRead + QUIET_SWEEP_MS && deps.now() >= busyUntil) return 0;
      lastRead = deps.now();
      const info = await deps.jsm.streams.info(streams.BATCHES.name, { subjects_filter: filters.workerBatches(deps.pool) });
      const live = new Map(deps.heartbeats().map((h) => [h.worker, h]));
      const now = deps.now();
      let moved = 0;
      const queued = new Set(Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length)));
      if (queued.size > 0) busyUntil = now + QUIET_SWEEP_MS;
      for (const worker of queued) {
        const beat = live.get(worker);
        const why = !beat ? 'no heartbeat' : beat.draining ? 'draining' : (await stalled(worker)) ? 'took none of them since the last sweep' : undefined;
        if (!why) continue;
        const n = await move(worker, !beat);
        if (n > 0) {
          deps.metrics.moved.inc({ pool: deps.pool }, n);
          deps.logger.warn({ pool: deps.pool, worker, batches: n, why }, "moved a worker's own batches to its pool");
        }
        moved += n;
      }
      for (const worker of lastSeen.keys()) if (!queued.has(worker)) lastSeen.delete(worker);
      if (now - lastForget >= FORGET_EVERY_MS) {
        lastForget = now;
        await forget(new Set([...live.keys(), ...queued]), now);
      }
      return moved;
    },
  };

  /**
   * A worker silent for `forgetAfterMs` whose queue is empty loses its durable consumer, so
   * consumers of workers long gone do not pile up (a worker that returns makes its own again).
   * First, every consumer of the pool has the batches JetStream counts as done but still holds
   * removed (`removeAckedLeftovers`): a worker making its durable afresh would run them again.
   */
  async function forget(present: ReadonlySet<string>, now: number): Promise<void> {
    const own = durables.worker(deps.pool, '');
    for await (const c of deps.jsm.consumers.list(streams.BATCHES.name)) {
      if (c.name !== durables.workers(deps.pool) && !c.name.startsWith(own)) continue;
      const removed = await removeAckedLeftovers(deps.jsm, streams.BATCHES.name, c).catch((e: unknown) => {
        deps.logger.warn({ err: e, pool: deps.pool, consumer: c.name }, 'could not remove batches already done');
        return 0;
      });
      if (removed > 0) deps.logger.warn({ pool: deps.pool, consumer: c.name, batches: removed }, 'removed batches already done that BATCHES still held');
      if (!c.name.startsWith(own)) continue;
      const worker = c.name.slice(own.length);
      if (present.has(worker)) {
        silentSince.delete(worker);
        continue;
      }
      const since = silentSince.get(worker) ?? now;
      silentSince.set(worker, since);
      if (now - since < forgetAfterMs || c.num_pending > 0 || c.num_ack_pending > 0) continue;
      await deps.jsm.consumers.delete(streams.BATCHES.name, c.name).catch(() => false);
      silentSince.delete(worker);
    }
  }
}

export type WorkerQueues = ReturnType<typeof createWorkerQueues>;
