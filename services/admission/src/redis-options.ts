import type { RedisOptions } from 'ioredis';

/**
 * How admission talks to Redis. Auto-pipelining sends the commands that concurrent calls
 * issue in one tick as one write: under load, one syscall for many rate-limit, budget and
 * request-state commands instead of one each.
 *
 * With Redis down, a call must fail fast with a retry hint (see `redis-outage.ts`), not hang:
 * reconnection attempts come at most 100 ms apart and a queued command fails after two
 * failed attempts, so a call waits about 200 ms per Redis command, while a blip of a few
 * tens of milliseconds (a restart, a failover) is ridden out. A connect that takes a second
 * counts as a failed attempt: Redis sits next to admission. Defaults of ioredis: 20
 * attempts per command, up to 2 s apart, 10 s connect timeout.
 */
export const ADMISSION_REDIS_OPTIONS: RedisOptions = {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 50, 100),
  connectTimeout: 1_000,
};
