import type { Redis } from 'ioredis';
import { unavailableOnRedisOutage } from './redis-outage.js';
import { redisScript } from './redis-script.js';
import type { BucketSpec } from './domain/quota.js';

export type LimitVerdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number; readonly label: string };

/**
 * Takes `cost` from every bucket or from none, atomically in Redis, so the limit holds
 * across any number of admission replicas. Returns the wait until the tightest bucket
 * refills enough, and which one it was.
 */
const TAKE_ALL = `
local now = tonumber(ARGV[1])
local wait, worst = 0, 0
local level = {}
for i = 1, #KEYS do
  local cap = tonumber(ARGV[i * 2])
  local cost = tonumber(ARGV[i * 2 + 1])
  local rate = cap / 60000
  local h = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tokens = tonumber(h[1]) or cap
  local ts = tonumber(h[2]) or now
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  level[i] = tokens
  if tokens < cost then
    local w = math.ceil((cost - tokens) / rate)
    if w > wait then wait, worst = w, i end
  end
end
if wait > 0 then return {wait, worst} end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 't', tostring(level[i] - tonumber(ARGV[i * 2 + 1])), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], 120000)
end
return {0, 0}`;

export function createRateLimiter(redis: Redis, now: () => number) {
  const takeAll = redisScript(redis, TAKE_ALL);
  return unavailableOnRedisOutage({
    async take(buckets: readonly BucketSpec[]): Promise<LimitVerdict> {
      if (buckets.length === 0) return { allowed: true };
      const args = buckets.flatMap((b) => [b.perMinute, b.cost]);
      const [wait, worst] = (await takeAll(
        buckets.map((b) => b.key),
        [now(), ...args],
      )) as [number, number];
      return wait > 0 ? { allowed: false, retryAfterMs: wait, label: buckets[worst - 1]!.label } : { allowed: true };
    },
  });
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
