import type { RedisOptions } from 'ioredis';

/**
 * How admission talks to Redis. Auto-pipelining sends the commands that concurrent calls
 * issue in one tick as one write: under load, one syscall for many rate-limit, budget and
 * request-state commands instead of one each.
 */
export const ADMISSION_REDIS_OPTIONS: RedisOptions = {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 3,
};
