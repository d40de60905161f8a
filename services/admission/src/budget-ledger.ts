import type { Redis } from 'ioredis';
import { redisScript } from './redis-script.js';

/** A monthly budget to reserve against; `hardLimitMicros` -1 means soft (never refuses). */
export interface BudgetSpec {
  readonly key: string;
  readonly label: string;
  readonly hardLimitMicros: number;
}

export type ReserveVerdict =
  | { readonly reserved: true; readonly committedMicros: number[] }
  | { readonly reserved: false; readonly label: string; readonly committedMicros: number };

/**
 * Reserve-then-settle in Redis. A reservation adds the worst-case cost to every budget's
 * `reserved` or to none; settling moves the real cost to `spent` and releases the rest.
 * Both are single scripts, so 200 concurrent requests cannot jointly overspend.
 */
const RESERVE = `
local cost = tonumber(ARGV[1])
for i = 2, #KEYS do
  local limit = tonumber(ARGV[i + 1])
  local h = redis.call('HMGET', KEYS[i], 'spent', 'reserved')
  local committed = (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0)
  if limit >= 0 and committed + cost > limit then return {0, i - 1, committed} end
end
local out = {1, 0}
for i = 2, #KEYS do
  local r = redis.call('HINCRBY', KEYS[i], 'reserved', cost)
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  out[#out + 1] = r + (tonumber(redis.call('HGET', KEYS[i], 'spent')) or 0)
end
redis.call('HSET', KEYS[1], 'cost', cost, 'budgets', table.concat(KEYS, ',', 2), 'model', ARGV[#KEYS + 2], 'tier', ARGV[#KEYS + 3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return out`;

const SETTLE = `
local h = redis.call('HMGET', KEYS[1], 'cost', 'budgets')
if not h[1] then return 0 end
redis.call('DEL', KEYS[1])
local cost = tonumber(h[1])
local actual = tonumber(ARGV[1])
for key in string.gmatch(h[2], '[^,]+') do
  redis.call('HINCRBY', key, 'reserved', -cost)
  redis.call('HINCRBY', key, 'spent', actual)
end
return 1`;

/** Budgets live two months, reservations a day: long enough for any request to settle. */
const BUDGET_TTL_MS = 62 * 24 * 3600 * 1000;
const reservationKey = (requestId: string) => `sy:resv:${requestId}`;

export function createBudgetLedger(redis: Redis) {
  const reserve = redisScript(redis, RESERVE);
  const settle = redisScript(redis, SETTLE);
  return {
    /** `pricing` is kept with the reservation so settling can price the real usage. */
    async reserve(requestId: string, costMicros: number, budgets: readonly BudgetSpec[], pricing: { model: string; tier: number }): Promise<ReserveVerdict> {
      if (budgets.length === 0) return { reserved: true, committedMicros: [] };
      const keys = [reservationKey(requestId), ...budgets.map((b) => b.key)];
      const res = (await reserve(keys, [costMicros, BUDGET_TTL_MS, ...budgets.map((b) => b.hardLimitMicros), pricing.model, pricing.tier])) as number[];
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
  };
}

export type BudgetLedger = ReturnType<typeof createBudgetLedger>;
