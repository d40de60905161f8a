import type { NatsConnection, Subscription } from '@switchyard/bus';
import { KvCacheEvents, subjects } from '@switchyard/contracts';
import type { PrefixCacheChanges } from './domain/engine.js';

/**
 * A worker's KV events on core NATS: what its prefix cache stored and evicted each step, and a
 * snapshot of all it holds whenever a scheduler asks (`kv.resync`) or the worker (re)starts
 * with an empty cache. Numbered, so a scheduler sees a lost message and asks for a snapshot.
 */
export function createKvEvents(nc: NatsConnection, pool: string, workerId: string, cached: () => number[]) {
  let seq = 0;
  const subject = subjects.kvEvents(pool, workerId);
  const send = (stored: number[], evicted: number[], snapshot: boolean) =>
    nc.publish(subject, KvCacheEvents.encode({ pool, workerId, seq: ++seq, stored, evicted, snapshot }).finish());
  let resync: Subscription | undefined;
  return {
    start() {
      resync = nc.subscribe(subjects.kvResync, { callback: () => send(cached(), [], true) });
    },
    /** After a step: what changed, if anything did. */
    changed(c: PrefixCacheChanges) {
      if (c.stored.length > 0 || c.evicted.length > 0) send([...c.stored], [...c.evicted], false);
    },
    /** Everything held now (a fresh engine: nothing), replacing what schedulers knew. */
    snapshot: () => send(cached(), [], true),
    stop: () => resync?.unsubscribe(),
  };
}
