// The claims of the batcher's exactly-once hand-off, in the `batching` bucket: a request's
// claim names the one batch that holds it. The batcher claims and reads them; the scheduler's
// failover releases a claim when it moves the request off a dead pool, so that another
// pool's batcher can claim it. Both go through this file, so the protocol is written once.
import type { KV } from '@nats-io/kv';
import { batchingKeys } from '@switchyard/contracts';

/**
 * How the `batching` bucket is opened, by the batcher and the scheduler alike. Its reads must
 * see the latest write: with the client's default direct gets, any replica of the bucket's
 * stream answers, including one a write has not reached yet, and in a cluster a claim or a
 * stored batch read back as missing let a redelivered dispatch be acked with its request in
 * no batch at all (seen as an admitted request with no terminal event in the cluster chaos
 * test). Without them, gets go to the stream's leader.
 */
export const BATCHING_BUCKET = { ttl: 3_600_000, allow_direct: false } as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Claims `requestId` for `batchId` unless it is claimed already; resolves with the batch that
 * holds it now: `batchId`, an earlier batch, or '' when the earlier claim was released.
 * Rejects when the claim could not be made and none is there: the hand-off must fail (its
 * dispatch is redelivered), not take the request for released and drop it.
 */
export async function claimRequest(kv: KV, requestId: string, batchId: string): Promise<string> {
  try {
    await kv.create(batchingKeys.claim(requestId), encoder.encode(batchId));
    return batchId;
  } catch (e) {
    // A create fails on a key that holds a claim, but also when NATS did not answer it (a
    // restart: the create may or may not have landed). Only the claim read back tells which.
    const held = await claimOf(kv, requestId);
    if (held === undefined) throw e;
    return held;
  }
}

/** The batch that holds `requestId`, or undefined when it has no claim. */
export async function claimOf(kv: KV, requestId: string): Promise<string | undefined> {
  const entry = await kv.get(batchingKeys.claim(requestId));
  return entry ? decoder.decode(entry.value) : undefined;
}

/**
 * Releases `requestId` from `batchId` (compare-and-set, so a claim made in between is kept);
 * true when the request is free now, false when another batch holds it.
 */
export async function releaseClaim(kv: KV, requestId: string, batchId: string): Promise<boolean> {
  const claim = await kv.get(batchingKeys.claim(requestId));
  if (!claim || claim.operation !== 'PUT') return true;
  if (decoder.decode(claim.value) !== batchId) return false;
  await kv.delete(batchingKeys.claim(requestId), { previousSeq: claim.revision });
  return true;
}
