/**
 * A worker's heartbeat, kept as JSON in the `pools` KV bucket under `<pool>.<worker>` so
 * operators can read it with `nats kv get pools <key>`.
 */
export interface WorkerHeartbeat {
  readonly pool: string;
  readonly worker: string;
  /** Sequences generating now. */
  readonly running: number;
  /** Sequences admitted but waiting for KV cache or a slot. */
  readonly waiting: number;
  /** Further sequences this worker can take. */
  readonly freeSlots: number;
  /** Fraction of KV-cache blocks in use, 0..1. */
  readonly kvUsed: number;
  /** KV-cache tokens free; absent from workers that do not model the cache. */
  readonly freeKvTokens?: number;
  /** Prompt tokens admitted and not computed yet; absent from workers that do not model prefill. */
  readonly prefillTokens?: number;
  /** Recent step time, ms (simulated). */
  readonly stepMs: number;
  /** Recent time to first token, ms (simulated). */
  readonly ttftMs: number;
  /** Draining workers finish what they hold and take nothing new. */
  readonly draining: boolean;
  readonly atUnixMs: number;
}

export const heartbeatKey = (pool: string, worker: string) => `${pool}.${worker}`;

/** Parses a KV value, or returns undefined for anything that is not a heartbeat. */
export function parseHeartbeat(data: Uint8Array): WorkerHeartbeat | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<WorkerHeartbeat>;
    if (typeof v.pool !== 'string' || typeof v.worker !== 'string' || typeof v.atUnixMs !== 'number') return undefined;
    return v as WorkerHeartbeat;
  } catch {
    return undefined;
  }
}

export const encodeHeartbeat = (h: WorkerHeartbeat): Uint8Array => new TextEncoder().encode(JSON.stringify(h));
