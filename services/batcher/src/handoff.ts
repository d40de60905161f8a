import type { JetStreamClient, KV } from '@switchyard/bus';
import { publishEvent } from '@switchyard/bus';
import { decodeEvent, encodeEvent, expectPayload, makeEvent, subjects, type RequestSpec } from '@switchyard/contracts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Exactly-once hand-off from DISPATCH to BATCHES across batcher crashes.
 *
 * The batch is written to KV before its requests are claimed for it (`create`, which fails
 * if the request already has a batch). A request a crashed batcher had claimed keeps its
 * old batch: that batch is re-published under its own id, which JetStream drops as a
 * duplicate if it went out before the crash, so no request is lost or sent twice. Dispatch
 * messages are acked only after this returns.
 */
export async function handOff(js: JetStreamClient, kv: KV, pool: string, batchId: string, requests: readonly RequestSpec[], nowMs: number): Promise<void> {
  const batchOf = (members: readonly RequestSpec[]) =>
    makeEvent({ id: batchId, tenant: members[0]!.tenant, requestId: members[0]!.requestId, nowMs }, { $case: 'batchFormed', batchFormed: { batchId, pool, requests: [...members] } });
  await kv.put(`batch.${batchId}`, encodeEvent(batchOf(requests)));
  const mine: RequestSpec[] = [];
  const theirs = new Set<string>();
  // Claims are independent of each other: send them all at once, not one round trip each.
  const owners = await Promise.all(
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
  requests.forEach((r, i) => {
    const owner = owners[i]!;
    if (owner === batchId) mine.push(r);
    else if (owner) theirs.add(owner);
  });
  for (const earlier of theirs) await republish(js, kv, earlier);
  if (mine.length === 0) return;
  const event = batchOf(mine);
  if (mine.length !== requests.length) await kv.put(`batch.${batchId}`, encodeEvent(event));
  await publishEvent(js, subjects.batches(pool), event);
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
