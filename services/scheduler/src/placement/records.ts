import type { KV } from '@switchyard/bus';

/** A rejection the scheduler decided for a request, kept so every later delivery repeats it. */
export interface RecordedRejection {
  readonly reason: string;
  readonly retryAfterMs: number;
}

export interface PlacementRecords {
  /** The rejection an earlier delivery of this request decided, if any. */
  rejection(requestId: string): Promise<RecordedRejection | undefined>;
  /**
   * Claims the request for a rejection before it is published. Resolves undefined when the
   * claim holds, or with the earlier rejection to repeat instead.
   */
  claimRejection(requestId: string, rejection: RecordedRejection): Promise<RecordedRejection | undefined>;
}

/** How long a rejection is kept: far past any redelivery of an admitted request's message. */
export const PLACEMENT_RECORD_TTL_MS = 15 * 60_000;

/**
 * How the `placements` bucket is opened. A redelivery must read the rejection an earlier
 * delivery recorded, so gets go to the stream's leader rather than to whichever replica
 * answers a direct get first, which in a cluster may not hold the record yet.
 */
export const PLACEMENTS_BUCKET = { ttl: PLACEMENT_RECORD_TTL_MS, allow_direct: false } as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decode(value: Uint8Array): RecordedRejection | undefined {
  try {
    const r = JSON.parse(decoder.decode(value)) as RecordedRejection;
    return typeof r.reason === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The scheduler's rejections per request, in the `placements` bucket (key: request id). A
 * message redelivered after its ack was lost (a NATS restart, a killed replica) must not be
 * judged again into a different answer. A dispatch needs no record: dispatching again is
 * dropped by its `dispatch-<id>` msgID, and a redelivery with no rejection on record is never
 * shed (the scheduler places it). A rejection is claimed here before it is published, so a
 * redelivery repeats it and never runs a request whose caller was told "rejected"; only
 * rejections pay the write, the token path does not.
 */
export function placementRecords(kv: KV): PlacementRecords {
  const rejection = async (requestId: string) => {
    const entry = await kv.get(requestId);
    return entry && entry.operation === 'PUT' ? decode(entry.value) : undefined;
  };
  return {
    rejection,
    async claimRejection(requestId, r) {
      try {
        await kv.create(requestId, encoder.encode(JSON.stringify(r)));
        return undefined;
      } catch (e) {
        const earlier = await rejection(requestId);
        if (earlier) return earlier;
        throw e;
      }
    },
  };
}
