import { releaseClaim, type JetStreamManager, type KV } from '@switchyard/bus';
import { decodeEvent, filters, streams, subjects, type RequestSpec } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';

/**
 * Where a moved request was found: `queued` in the dead pool's batcher (it never reached a
 * GPU), or `batched`: in a batch for the dead pool's workers, not pulled or pulled by a worker
 * that died with it (the stream cannot tell which: a dead worker's open pull still takes
 * messages until it expires). Either way it runs again from the start elsewhere; the token
 * relay drops the chunks the caller already has. `upstream`: an engine adapter's upstream failed
 * before the request's first token, and the adapter asked for it to be placed elsewhere.
 */
export type FailoverStage = 'queued' | 'batched' | 'upstream';

export interface FailoverDeps {
  readonly jsm: JetStreamManager;
  /** The batcher's exactly-once hand-off claims (`batching` bucket), released with `releaseClaim`. */
  readonly batchingKv: KV;
  /** Whether the request already reached its terminal outcome. */
  readonly hasEnded: (requestId: string) => boolean;
  /**
   * Places `request` on another pool than `from` and dispatches it under `dispatchId` (a
   * Nats-Msg-Id, so a repeated sweep never dispatches twice); the new pool, or undefined when
   * no pool can take it now.
   */
  readonly replace: (request: RequestSpec, from: string, stage: FailoverStage, dispatchId: string) => Promise<string | undefined>;
  readonly logger: Logger;
}

interface Stored {
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Messages of one subject of a work-queue stream, oldest first (read without consuming). */
async function* storedOn(jsm: JetStreamManager, stream: string, subject: string): AsyncGenerator<Stored> {
  let seq = 1;
  for (;;) {
    // nats-server 2.9 answers STREAM.MSG.GET with next_by_subj; the client types only list seq / last_by_subj.
    const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as { seq: number });
    if (!m) return;
    yield { seq: m.seq, data: m.data };
    seq = m.seq + 1;
  }
}

/**
 * Moves the requests a dead pool had not finished onto other pools. They sit in two work
 * queues, which the sweep reads directly: DISPATCH (`dispatch.<pool>`, held by the pool's
 * batcher) and BATCHES (`batches.<pool>` and each worker's `batches.<pool>.<worker>`, batches
 * no live worker will pull, or pulled by a worker that died with them). Each request is dispatched elsewhere under an id derived from
 * where it was found, then its old message is deleted; for a batch, the batcher's claim on the
 * request is released first, so the new pool's batcher can claim it. A sweep cut short (crash,
 * no pool free) is simply repeated: every step is idempotent.
 */
export function createFailover(deps: FailoverDeps) {
  const running = new Set<string>();

  async function fromDispatch(pool: string): Promise<{ moved: number; stuck: boolean }> {
    let moved = 0;
    for await (const m of storedOn(deps.jsm, streams.DISPATCH.name, subjects.dispatch(pool))) {
      const request = decodeEvent(m.data).payload;
      const spec = request?.$case === 'requestDispatched' ? request.requestDispatched.request : undefined;
      if (spec && !deps.hasEnded(spec.requestId)) {
        const to = await deps.replace(spec, pool, 'queued', `dispatch-${spec.requestId}-from-D${m.seq}`);
        if (!to) return { moved, stuck: true };
        moved++;
      }
      await deps.jsm.streams.deleteMessage(streams.DISPATCH.name, m.seq, false);
    }
    return { moved, stuck: false };
  }

  async function fromBatches(pool: string): Promise<{ moved: number; stuck: boolean }> {
    let moved = 0;
    // The pool's queue, then its workers' own queues (batches handed to the worker holding their prefix).
    for (const subject of [subjects.batches(pool), filters.workerBatches(pool)]) {
      for await (const m of storedOn(deps.jsm, streams.BATCHES.name, subject)) {
        const payload = decodeEvent(m.data).payload;
        const batch = payload?.$case === 'batchFormed' ? payload.batchFormed : undefined;
        for (const spec of batch?.requests ?? []) {
          if (deps.hasEnded(spec.requestId)) continue;
          if (!(await releaseClaim(deps.batchingKv, spec.requestId, batch!.batchId))) continue;
          const to = await deps.replace(spec, pool, 'batched', `dispatch-${spec.requestId}-from-B${m.seq}`);
          if (!to) return { moved, stuck: true };
          moved++;
        }
        await deps.jsm.streams.deleteMessage(streams.BATCHES.name, m.seq, false);
      }
    }
    return { moved, stuck: false };
  }

  return {
    /** Moves what `pool` holds and has not finished; resolves with the number of requests moved. */
    async sweep(pool: string): Promise<number> {
      if (running.has(pool)) return 0;
      running.add(pool);
      try {
        const a = await fromDispatch(pool);
        const b = a.stuck ? { moved: 0, stuck: true } : await fromBatches(pool);
        if (a.moved + b.moved > 0) deps.logger.warn({ pool, moved: a.moved + b.moved, stuck: a.stuck || b.stuck }, 'failover: moved requests off a dead pool');
        return a.moved + b.moved;
      } catch (e) {
        deps.logger.error({ err: e, pool }, 'failover sweep failed; retrying at the next sweep');
        return 0;
      } finally {
        running.delete(pool);
      }
    },
  };
}

export type Failover = ReturnType<typeof createFailover>;
