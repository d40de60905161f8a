import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { unavailableOnRedisOutage } from './redis-outage.js';

/** What a finished request leaves for callers that repeat its idempotency key. */
export interface StoredResult {
  readonly requestId: string;
  readonly ok: boolean;
  readonly text: string;
  readonly inputTokens: number;
  /** Prompt tokens read from a prefix cache; absent in results stored before it was kept. */
  readonly cachedInputTokens?: number;
  readonly outputTokens: number;
  /** Why the output ended ("stop" or "length"); absent in results stored before it was kept. */
  readonly finishReason?: string;
  /** gRPC-facing error when `ok` is false. */
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export type Claim = { readonly kind: 'new' } | { readonly kind: 'same'; readonly requestId: string } | { readonly kind: 'conflict' };

const DAY_MS = 24 * 3600 * 1000;

/** A stable hash of what makes two requests "the same body". */
export function bodyHash(body: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(body)
      .sort()
      .map((k) => [k, body[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Idempotency keys, scoped per tenant, kept 24 h. The first caller claims the key with
 * SET NX; every later caller learns the request id it must join, or that its body differs.
 */
export function createIdempotency(redis: Redis) {
  const keyOf = (tenant: string, key: string) => `sy:idem:${tenant}:${createHash('sha256').update(key).digest('hex')}`;
  const resultKey = (requestId: string) => `sy:result:${requestId}`;
  return unavailableOnRedisOutage({
    async claim(tenant: string, key: string, hash: string, requestId: string): Promise<Claim> {
      const k = keyOf(tenant, key);
      if ((await redis.set(k, `${hash}|${requestId}`, 'PX', DAY_MS, 'NX')) === 'OK') return { kind: 'new' };
      const existing = await redis.get(k);
      if (!existing) return this.claim(tenant, key, hash, requestId);
      const [storedHash, storedId] = existing.split('|');
      return storedHash === hash ? { kind: 'same', requestId: storedId! } : { kind: 'conflict' };
    },
    /** The request that holds the key now; undefined once it was released (or expired). */
    async holder(tenant: string, key: string): Promise<string | undefined> {
      return (await redis.get(keyOf(tenant, key)))?.split('|')[1];
    },
    /** Frees a key whose request was refused before admission, so a retry may use it. */
    async release(tenant: string, key: string): Promise<void> {
      await redis.del(keyOf(tenant, key));
    },
    async storeResult(result: StoredResult): Promise<void> {
      await redis.set(resultKey(result.requestId), JSON.stringify(result), 'PX', DAY_MS);
    },
    async result(requestId: string): Promise<StoredResult | undefined> {
      const raw = await redis.get(resultKey(requestId));
      return raw ? (JSON.parse(raw) as StoredResult) : undefined;
    },
  });
}

export type Idempotency = ReturnType<typeof createIdempotency>;
