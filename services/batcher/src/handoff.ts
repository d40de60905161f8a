import type { JetStreamClient, KV } from '@switchyard/bus';
import { claimOf, claimRequest, publishEvent } from '@switchyard/bus';
import { batchFormed, batchingKeys, decodeEvent, encodeEvent, expectPayload, makeEvent, subjects, type RequestSpec } from '@switchyard/contracts';

/**
 * Batch ids of one-request batches start with this. Such a batch has no stored record: its
 * claim is all there is, and whoever meets the claim holds the one request it names (the
 * redelivered dispatch), so it can re-send the batch without reading anything back.
 */
const SOLO = 'solo-';

/**
 * Exactly-once hand-off from DISPATCH to BATCHES across batcher crashes.
 *
 * A batch is published only after its requests are claimed for it in KV (`create`, which
 * fails if the request already has a batch). A request a crashed batcher had claimed keeps
 * its old batch: that batch is re-published under its own id, which JetStream drops as a
 * duplicate if it went out before the crash, so no request is lost or sent twice. Batches of
 * several requests are stored before they are claimed (a claim must name a batch that can be
 * read back); a one-request batch is only claimed, one round trip instead of two, which is
 * what realtime traffic, sent at once and mostly alone, waits for. Dispatch messages are
 * acked only after this returns.
 *
 * With `worker` the batch goes to that worker alone (`batches.<pool>.<worker>`: it holds the
 * prompts' prefixes), and the stored batch says so, so a re-send goes there too.
 */
export async function handOff(
  js: JetStreamClient,
  kv: KV,
  pool: string,
  batchId: string,
  requests: readonly RequestSpec[],
  nowMs: number,
  worker = '',
): Promise<void> {
  const solo = requests.length === 1;
  const id = solo ? `${SOLO}${batchId}` : batchId;
  const batchOf = (members: readonly RequestSpec[], named = id, to = worker) =>
    makeEvent(
      // One envelope for many requests: it carries the first one's trace; each request carries its own.
      { id: named, tenant: members[0]!.tenant, requestId: members[0]!.requestId, nowMs, traceparent: members[0]!.traceparent },
      { $case: 'batchFormed', batchFormed: batchFormed({ batchId: named, pool, requests: [...members], worker: to }) },
    );
  if (!solo) await kv.put(batchingKeys.batch(id), encodeEvent(batchOf(requests)));
  const mine: RequestSpec[] = [];
  /** Earlier batches holding some of these requests; a solo one is re-sent from the request it held. */
  const theirs = new Map<string, RequestSpec>();
  // Claims are independent of each other: send them all at once, not one round trip each.
  const owners = await Promise.all(requests.map((r) => claimRequest(kv, r.requestId, id)));
  requests.forEach((r, i) => {
    const owner = owners[i]!;
    if (owner === id) mine.push(r);
    else if (owner) theirs.set(owner, r);
  });
  for (const [earlier, request] of theirs) {
    // Which worker an earlier solo batch went to is not known: had it gone out, its id makes
    // this a duplicate JetStream drops (the window is stream-wide), and if not, any worker may run it.
    if (earlier.startsWith(SOLO)) await publishEvent(js, subjects.batches(pool), batchOf([request], earlier, ''));
    else await republish(js, kv, earlier);
  }
  if (mine.length === 0) return;
  const event = batchOf(mine);
  if (!solo && mine.length !== requests.length) await kv.put(batchingKeys.batch(id), encodeEvent(event));
  await publishEvent(js, subjects.batches(pool, worker), event);
}

/** Re-sends an earlier batch with only the requests still claimed by it. */
async function republish(js: JetStreamClient, kv: KV, batchId: string): Promise<void> {
  const stored = await kv.get(batchingKeys.batch(batchId));
  if (!stored || stored.value.length === 0) return;
  const event = decodeEvent(stored.value);
  const formed = expectPayload(event, 'batchFormed').batchFormed;
  const owned: RequestSpec[] = [];
  for (const r of formed.requests) {
    if ((await claimOf(kv, r.requestId)) === batchId) owned.push(r);
  }
  if (owned.length === 0) return;
  await publishEvent(js, subjects.batches(formed.pool, formed.worker), {
    ...event,
    payload: { $case: 'batchFormed', batchFormed: { ...formed, requests: owned } },
  });
}
