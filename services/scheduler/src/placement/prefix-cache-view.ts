import type { NatsConnection, Subscription } from '@switchyard/bus';
import { filters, KvCacheEvents, subjects, type WorkerHeartbeat } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { createPrefixIndex, type PrefixHit, type PrefixIndex } from './domain/prefix-index.js';

export interface PrefixCacheViewDeps {
  readonly nc: NatsConnection;
  /** The fresh heartbeats now: who is alive, draining or full. */
  readonly heartbeats: () => Iterable<WorkerHeartbeat>;
  readonly logger: Logger;
  /** Block hashes kept at most. Default the index's, 1,000,000. */
  readonly maxBlocks?: number;
}

/** Workers whose cache is unknown are asked for a snapshot at most this often. */
const RESYNC_EVERY_MS = 1_000;
/** How often workers without a fresh heartbeat leave the index. */
const SWEEP_EVERY_MS = 2_000;

const key = (pool: string, worker: string) => `${pool}\u0000${worker}`;

/**
 * The scheduler's view of the workers' prefix caches: follows their KV events into the index,
 * asks every worker for a snapshot when it starts and whenever a worker's events skipped a
 * number, and forgets workers whose heartbeat stopped. Answers, per pool, the worker with the
 * longest run of a prompt's leading blocks among those that can take a request now (fresh
 * heartbeat, not draining, a free slot), so a hot prefix never piles work onto a full GPU.
 */
export function createPrefixCacheView(deps: PrefixCacheViewDeps) {
  const index: PrefixIndex = createPrefixIndex({ maxBlocks: deps.maxBlocks });
  const lastSeq = new Map<string, { pool: string; worker: string; seq: number }>();
  let subscription: Subscription | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let lastResync = 0;
  let open: { at: number; workers: Set<string> } | undefined;

  const resync = () => {
    const now = Date.now();
    if (now - lastResync < RESYNC_EVERY_MS) return;
    lastResync = now;
    deps.nc.publish(subjects.kvResync);
  };

  const apply = (e: KvCacheEvents) => {
    const k = key(e.pool, e.workerId);
    const last = lastSeq.get(k);
    lastSeq.set(k, { pool: e.pool, worker: e.workerId, seq: e.seq });
    if (e.snapshot) return index.snapshot(e.pool, e.workerId, e.stored);
    // Events lost (or a restarted worker, numbering from 1 again): what it holds is unknown until its snapshot.
    if (last === undefined || e.seq !== last.seq + 1) resync();
    index.evicted(e.pool, e.workerId, e.evicted);
    index.stored(e.pool, e.workerId, e.stored);
  };

  /** Workers that could take a request now; read from the heartbeats at most every 20 ms, as pool states are. */
  const available = (): Set<string> => {
    const now = Date.now();
    if (open && now - open.at < 20) return open.workers;
    const workers = new Set<string>();
    for (const h of deps.heartbeats()) if (!h.draining && h.freeSlots > 0) workers.add(key(h.pool, h.worker));
    open = { at: now, workers };
    return workers;
  };

  return {
    start() {
      subscription = deps.nc.subscribe(filters.allKvEvents, {
        callback: (error, msg) => {
          if (error) return;
          try {
            apply(KvCacheEvents.decode(msg.data));
          } catch (e) {
            deps.logger.debug({ err: e, subject: msg.subject }, 'undecodable KV event ignored');
          }
        },
      });
      resync();
      sweep = setInterval(() => {
        const alive = new Set<string>();
        for (const h of deps.heartbeats()) alive.add(key(h.pool, h.worker));
        for (const [k, w] of lastSeq) {
          if (alive.has(k)) continue;
          index.dropWorker(w.pool, w.worker);
          lastSeq.delete(k);
        }
      }, SWEEP_EVERY_MS);
    },
    /** Per pool, the best hit of these leading blocks among workers that can take a request now. */
    hits(hashes: readonly number[]): Map<string, PrefixHit> {
      const out = new Map<string, PrefixHit>();
      const all = index.hits(hashes);
      if (all.length === 0) return out;
      const ready = available();
      for (const hit of all) {
        if (!ready.has(key(hit.pool, hit.worker))) continue;
        const best = out.get(hit.pool);
        if (!best || hit.blocks > best.blocks) out.set(hit.pool, hit);
      }
      return out;
    },
    /** Blocks indexed now, or those one worker holds. */
    size: (holder?: { pool: string; worker: string }) => (holder ? index.heldBy(holder.pool, holder.worker) : index.size()),
    stop() {
      clearInterval(sweep);
      subscription?.unsubscribe();
    },
  };
}

export type PrefixCacheView = ReturnType<typeof createPrefixCacheView>;
