import type { KV } from '@switchyard/bus';

/** What an earlier delivery of a request decided. */
export type FirstDecision =
  | { readonly kind: 'dispatched'; readonly pool: string }
  | { readonly kind: 'rejected'; readonly reason: string; readonly retryAfterMs: number };

export interface PlacementRecords {
  /** The decision an earlier delivery made, if it got as far as recording it. */
  first(requestId: string): Promise<FirstDecision | undefined>;
  /** Records a dispatch that is already on DISPATCH. */
  dispatched(requestId: string, pool: string): Promise<void>;
  /**
   * Claims the request for a rejection before it is published. Resolves undefined when the
   * claim holds, or with the earlier decision to follow instead.
   */
  claimRejection(requestId: string, reason: string, retryAfterMs: number): Promise<FirstDecision | undefined>;
}

/** How long a decision is kept: far past any redelivery of an admitted request's message. */
export const PLACEMENT_RECORD_TTL_MS = 15 * 60_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (d: FirstDecision) => encoder.encode(JSON.stringify(d));

function decode(value: Uint8Array): FirstDecision | undefined {
  try {
    const d = JSON.parse(decoder.decode(value)) as FirstDecision;
    return d.kind === 'dispatched' || d.kind === 'rejected' ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The scheduler's first decision per request, in the `placements` bucket (key: request id).
 * A message redelivered after its ack was lost (a NATS restart, a killed replica) must not be
 * judged again: its age would count against the tier's objective and shed a request that the
 * first delivery already dispatched, and the caller would hear "rejected" for a request that
 * runs and is billed. Rejections claim the key before they are published (create fails if a
 * dispatch is recorded); dispatches are recorded after their publish, off the token path.
 */
export function placementRecords(kv: KV): PlacementRecords {
  const first = async (requestId: string) => {
    const entry = await kv.get(requestId);
    return entry && entry.operation === 'PUT' ? decode(entry.value) : undefined;
  };
  return {
    first,
    async dispatched(requestId, pool) {
      await kv.put(requestId, encode({ kind: 'dispatched', pool }));
    },
    async claimRejection(requestId, reason, retryAfterMs) {
      try {
        await kv.create(requestId, encode({ kind: 'rejected', reason, retryAfterMs }));
        return undefined;
      } catch (e) {
        const earlier = await first(requestId);
        if (earlier) return earlier;
        throw e;
      }
    },
  };
}
