import { DomainError } from '@switchyard/contracts';

/** How long a caller should wait before retrying a call that failed because Redis was down. */
export const REDIS_RETRY_AFTER_MS = 1_000;

/** What ioredis rejects a command with when it has no connection to send it on. */
const NO_CONNECTION = new Set(['Connection is closed.', "Stream isn't writeable and enableOfflineQueue options is false"]);
/** Replies of a Redis that is up but cannot serve yet: loading, a replica mid-failover, a busy script. */
const NOT_SERVING = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/** Whether an error from a Redis command means Redis could not be reached or could not serve. */
export function isRedisOutage(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'MaxRetriesPerRequestError' || NO_CONNECTION.has(e.message)) return true;
  return e.name === 'ReplyError' && NOT_SERVING.test(e.message);
}

/** The one mapping of a Redis outage to the domain: UNAVAILABLE with a retry hint; anything else as it was. */
export function redisOutageAsUnavailable(e: unknown): unknown {
  return isRedisOutage(e)
    ? new DomainError('UNAVAILABLE', 'Redis (rate limits, budgets, request state) is unreachable; retry shortly', {
        cause: e,
        retryAfterMs: REDIS_RETRY_AFTER_MS,
      })
    : e;
}

/**
 * Wraps every method of a Redis-backed store so an outage surfaces as UNAVAILABLE, which
 * each edge maps (gRPC UNAVAILABLE, HTTP 503 with Retry-After, a nak on the bus), instead
 * of an unknown error that became INTERNAL.
 */
export function unavailableOnRedisOutage<T extends object>(store: T): T {
  const wrapped = Object.entries(store).map(([name, method]) => [
    name,
    typeof method === 'function'
      ? async (...args: unknown[]) => {
          try {
            return await (method as (...a: unknown[]) => Promise<unknown>).apply(store, args);
          } catch (e) {
            throw redisOutageAsUnavailable(e);
          }
        }
      : method,
  ]);
  return Object.fromEntries(wrapped) as T;
}
