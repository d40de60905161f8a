import type { Redis } from 'ioredis';
import { unavailableOnRedisOutage } from './redis-outage.js';
import { redisScript } from './redis-script.js';
import type { BudgetSpec } from './domain/quota.js';

export type ReserveVerdict =
  { readonly reserved: true; readonly committedMicros: number[] } | { readonly reserved: false; readonly label: string; readonly committedMicros: number };

/**
 * Reserve-then-settle in Redis. A reservation adds the worst-case cost to every budget's
 * `reserved` or to none; settling moves the real cost to `spent` and releases the rest.
 * Both are single scripts, so 200 concurrent requests cannot jointly overspend.
 *
 * Each budget also lists its open reservations in a sorted set (`<budget>:open`, member
 * `<request id>:<cost>`, scored by expiry). A reservation whose admission process died before
 * settling would otherwise hold budget for ever; every reservation first releases the ones
 * past their expiry. Keys derive from the budget key, so this needs one Redis (with
 * replicas), not Redis Cluster.
 */
const RESERVE = `
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local member = ARGV[4] .. ':' .. ARGV[1]
local expires = now + tonumber(ARGV[5])
for i = 2, #KEYS do
  local open = KEYS[i] .. ':open'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', open, '-inf', now)) do
    redis.call('HINCRBY', KEYS[i], 'reserved', -tonumber(string.match(m, ':(%d+)$')))
  end
  redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
end
for i = 2, #KEYS do
  local limit = tonumber(ARGV[i + 4])
  local h = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local committed = (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0)
  if limit >= 0 and committed + cost > limit then return {0, i - 1, committed} end
end
local out = {1, 0}
for i = 2, #KEYS do
  local r = redis.call('HINCRBY', KEYS[i], 'reserved', cost)
  redis.call('ZADD', KEYS[i] .. ':open', expires, member)
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  redis.call('PEXPIRE', KEYS[i] .. ':open', ARGV[2])
  out[#out + 1] = r + (tonumber(redis.call('HGET', KEYS[i], 'spent')) or 0)
end
redis.call('HSET', KEYS[1], 'cost', cost, 'member', member, 'budgets', table.concat(KEYS, ',', 2), 'model', ARGV[#KEYS + 5], 'tier', ARGV[#KEYS + 6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return out`;

const SETTLE = `
local h = redis.call('HMGET', KEYS[1], 'cost', 'budgets', 'member')
if not h[1] then return 0 end
redis.call('DEL', KEYS[1])
local cost = tonumber(h[1])
local actual = tonumber(ARGV[1])
for key in string.gmatch(h[2], '[^,]+') do
  -- Released already if it outlived its expiry; then only the spend is recorded.
  if redis.call('ZREM', key .. ':open', h[3]) == 1 then redis.call('HINCRBY', key, 'reserved', -cost) end
  redis.call('HINCRBY', key, 'spent', actual)
end
return 1`;

/** Budgets live two months: long enough to outlast their month. */
const BUDGET_TTL_MS = 62 * 24 * 3600 * 1000;
/**
 * How long a reservation holds budget without being settled. Longer than any request may
 * run (admission gives up after 10 minutes by default), short enough that a crashed
 * admission does not starve a tenant for long.
 */
export const RESERVATION_TTL_MS = 60 * 60 * 1000;
const reservationKey = (requestId: string) => `sy:resv:${requestId}`;

export function createBudgetLedger(redis: Redis, now: () => number = Date.now, reservationTtlMs = RESERVATION_TTL_MS) {
  const reserve = redisScript(redis, RESERVE);
  const settle = redisScript(redis, SETTLE);
  return unavailableOnRedisOutage({
    /** `pricing` is kept with the reservation so settling can price the real usage. */
    async reserve(requestId: string, costMicros: number, budgets: readonly BudgetSpec[], pricing: { model: string; tier: number }): Promise<ReserveVerdict> {
      if (budgets.length === 0) return { reserved: true, committedMicros: [] };
      const keys = [reservationKey(requestId), ...budgets.map((b) => b.key)];
      const res = (await reserve(keys, [
        costMicros,
        BUDGET_TTL_MS,
        now(),
        requestId,
        reservationTtlMs,
        ...budgets.map((b) => b.hardLimitMicros),
        pricing.model,
        pricing.tier,
      ])) as number[];
      return res[0] === 1
        ? { reserved: true, committedMicros: res.slice(2) }
        : { reserved: false, label: budgets[res[1]! - 1]!.label, committedMicros: res[2]! };
    },
    /** Model and tier of an open reservation, to price its real usage; undefined once settled. */
    async pending(requestId: string): Promise<{ model: string; tier: number } | undefined> {
      const [model, tier] = await redis.hmget(reservationKey(requestId), 'model', 'tier');
      return model ? { model, tier: Number(tier) } : undefined;
    },
    /** Idempotent: the first settle of a request wins, later ones do nothing. */
    async settle(requestId: string, actualMicros: number): Promise<boolean> {
      return (await settle([reservationKey(requestId)], [actualMicros])) === 1;
    },
    async spent(key: string): Promise<{ spent: number; reserved: number }> {
      const [spent, reserved] = await redis.hmget(key, 'spent', 'reserved');
      return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) };
    },
  });
}

export type BudgetLedger = ReturnType<typeof createBudgetLedger>;
