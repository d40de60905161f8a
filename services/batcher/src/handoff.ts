import type { JetStreamClient, KV } from '@switchyard/bus';
import { publishEvent } from '@switchyard/bus';
import { decodeEvent, encodeEvent, expectPayload, makeEvent, subjects, type RequestSpec } from '@switchyard/contracts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A dispatched request on its way into a batch, with what its dispatch message says of it. */
export interface HandOffMember {
  readonly spec: RequestSpec;
  /** Envelope id of the dispatch event: one per placement, the same on every redelivery. */
  readonly dispatchId: string;
  /** Delivered before: an earlier batcher (or this one before a restart) may have sent it already. */
  readonly redelivered: boolean;
}

/**
 * Exactly-once hand-off from DISPATCH to BATCHES across batcher crashes.
 *
 * A request travels alone, in a batch whose id derives from its dispatch event
 * (`solo-<dispatch id>`), when it is the only one leaving, and always when it was delivered
 * before (unless an earlier batch claimed it, see below). Re-sent after a crash, such a batch
 * carries the same id, which JetStream drops as a duplicate: no KV write at all, so realtime
 * traffic, sent at once and mostly alone, waits for no extra round trip.
 *
 * Several first-delivery requests leaving together form a batch that is stored in KV and then
 * claimed request by request (`create`, which fails if the request already has a batch); it
 * is published only after both. A redelivered request that a crashed batcher had claimed keeps
 * its old batch: that batch is re-published under its own id (again dropped if it went out),
 * with only the requests still claimed by it. So no request is lost or sent twice. Dispatch
 * messages are acked only after this returns.
 */
export async function handOff(js: JetStreamClient, kv: KV, pool: string, batchId: string, members: readonly HandOffMember[], nowMs: number): Promise<void> {
  const batchOf = (id: string, requests: readonly RequestSpec[]) =>
    makeEvent({ id, tenant: requests[0]!.tenant, requestId: requests[0]!.requestId, nowMs }, { $case: 'batchFormed', batchFormed: { batchId: id, pool, requests: [...requests] } });
  const solo = (m: HandOffMember) => publishEvent(js, subjects.batches(pool), batchOf(`solo-${m.dispatchId}`, [m.spec]));

  const fresh = members.filter((m) => !m.redelivered);
  const again = members.filter((m) => m.redelivered);
  // Looked up at once, not one round trip each.
  const earlier = await Promise.all(again.map(async (m) => (await kv.get(`req.${m.spec.requestId}`))?.value));
  const owners = new Set<string>();
  await Promise.all(
    again.map((m, i) => {
      const claim = earlier[i];
      if (!claim || claim.length === 0) return solo(m);
      owners.add(decoder.decode(claim));
      return undefined;
    }),
  );
  for (const owner of owners) await republish(js, kv, owner);

  if (fresh.length === 1) return void (await solo(fresh[0]!));
  if (fresh.length === 0) return;
  const requests = fresh.map((m) => m.spec);
  await kv.put(`batch.${batchId}`, encodeEvent(batchOf(batchId, requests)));
  // Claims are independent of each other: send them all at once, not one round trip each.
  const claimed = await Promise.all(
    requests.map((r) =>
      kv.create(`req.${r.requestId}`, encoder.encode(batchId)).then(
        () => batchId,
        async () => {
          const entry = await kv.get(`req.${r.requestId}`);
          return entry ? decoder.decode(entry.value) : '';
        },
      ),
    ),
  );
  const mine = requests.filter((_, i) => claimed[i] === batchId);
  // A claim held by another batch (a request placed again after a failover that could not release it).
  for (const owner of new Set(claimed.filter((c) => c && c !== batchId))) await republish(js, kv, owner);
  if (mine.length === 0) return;
  if (mine.length !== requests.length) await kv.put(`batch.${batchId}`, encodeEvent(batchOf(batchId, mine)));
  await publishEvent(js, subjects.batches(pool), batchOf(batchId, mine));
}

/** Re-sends an earlier batch with only the requests still claimed by it. */
async function republish(js: JetStreamClient, kv: KV, batchId: string): Promise<void> {
  const stored = await kv.get(`batch.${batchId}`);
  if (!stored || stored.value.length === 0) return;
  const event = decodeEvent(stored.value);
  const formed = expectPayload(event, 'batchFormed').batchFormed;
  const owned: RequestSpec[] = [];
  for (const r of formed.requests) {
    const claim = await kv.get(`req.${r.requestId}`);
    if (claim && decoder.decode(claim.value) === batchId) owned.push(r);
  }
  if (owned.length === 0) return;
  await publishEvent(js, subjects.batches(formed.pool), { ...event, payload: { $case: 'batchFormed', batchFormed: { ...formed, requests: owned } } });
}
