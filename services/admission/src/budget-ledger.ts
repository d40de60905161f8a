import type { Redis } from 'ioredis';
import { unavailableOnRedisOutage } from './redis-outage.js';
import { redisScript } from './redis-script.js';
import type { BudgetSpec } from './domain/budget-plan.js';

export type ReserveVerdict =
  { readonly reserved: true; readonly committedMicros: number[] } | { readonly reserved: false; readonly label: string; readonly committedMicros: number };

/**
 * Reserve-then-settle in Redis, over the spend billing's ledger holds. A budget's committed
 * amount is the ledger's spend this month (the floor, from the state billing last published)
 * + what admission settled since that the ledger may not show yet (provisional) + what is in
 * flight (reserved). A reservation adds the worst-case cost to every budget or to none;
 * settling moves the real cost from reserved to provisional. Both are single scripts, so 200
 * concurrent requests cannot jointly overspend.
 *
 * Per budget key: a hash (`reserved`, `provisional`), its open reservations (`<key>:open`,
 * member `<request id>:<cost>`, scored by expiry: a reservation whose admission died before
 * settling is released once it expires) and its provisional settlements (`<key>:recent`,
 * member `<request id>:<amount>`, scored by when settled). A settlement is dropped once the
 * floor was read at least `graceMs` after it, by when the ledger holds it. Everything here may
 * be lost (FLUSHALL, a new Redis): the floor alone then still enforces the month's spend.
 * Keys derive from the budget key, so this needs one Redis (with replicas), not a Cluster.
 */
const RESERVE = `
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local member = ARGV[4] .. ':' .. ARGV[1]
local expires = now + tonumber(ARGV[5])
local grace = tonumber(ARGV[6])
local amountOf = function(m) return tonumber(string.match(m, ':(%d+)$')) end
local committed = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local open = key .. ':open'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', open, '-inf', now)) do
    redis.call('HINCRBY', key, 'reserved', -amountOf(m))
  end
  redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
  -- Per budget: hard limit, floor, floor's as-of time, from ARGV[7] on.
  local base = 7 + (i - 2) * 3
  local floorAsOf = tonumber(ARGV[base + 2])
  local recent = key .. ':recent'
  local inLedger = floorAsOf - grace
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', recent, '-inf', inLedger)) do
    redis.call('HINCRBY', key, 'provisional', -amountOf(m))
  end
  redis.call('ZREMRANGEBYSCORE', recent, '-inf', inLedger)
  local limit = tonumber(ARGV[base])
  local floor = tonumber(ARGV[base + 1])
  local h = redis.call('HMGET', key, 'provisional', 'reserved')
  committed[i] = floor + (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0)
  if limit >= 0 and committed[i] + cost > limit then return {0, i - 1, committed[i]} end
end
local out = {1, 0}
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[i], 'reserved', cost)
  redis.call('ZADD', KEYS[i] .. ':open', expires, member)
  for _, k in ipairs({KEYS[i], KEYS[i] .. ':open', KEYS[i] .. ':recent'}) do redis.call('PEXPIRE', k, ARGV[2]) end
  out[#out + 1] = committed[i] + cost
end
local pricing = 7 + (#KEYS - 1) * 3
redis.call('HSET', KEYS[1], 'cost', cost, 'member', member, 'budgets', table.concat(KEYS, ',', 2), 'model', ARGV[pricing], 'tier', ARGV[pricing + 1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return out`;

const SETTLE = `
local h = redis.call('HMGET', KEYS[1], 'cost', 'budgets', 'member')
if not h[1] then return 0 end
redis.call('DEL', KEYS[1])
local cost = tonumber(h[1])
local actual = tonumber(ARGV[1])
local requestId = string.match(h[3], '^(.*):%d+$')
for key in string.gmatch(h[2], '[^,]+') do
  -- Released already if it outlived its expiry; then only the spend is recorded.
  if redis.call('ZREM', key .. ':open', h[3]) == 1 then redis.call('HINCRBY', key, 'reserved', -cost) end
  if actual > 0 then
    redis.call('ZADD', key .. ':recent', tonumber(ARGV[2]), requestId .. ':' .. actual)
    redis.call('HINCRBY', key, 'provisional', actual)
  end
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

/**
 * How long after a settlement billing's published spend is taken to include it: usage goes
 * worker -> metering -> billing's ledger in well under this, and an earlier drop would
 * briefly under-count. Until then the amount counts twice at most, which only errs on the
 * side of refusing.
 */
export const PROVISIONAL_GRACE_MS = 10_000;

export interface BudgetLedgerOptions {
  readonly now?: () => number;
  /** Default {@link RESERVATION_TTL_MS}. */
  readonly reservationTtlMs?: number;
  /** Default {@link PROVISIONAL_GRACE_MS}. */
  readonly provisionalGraceMs?: number;
}

export function createBudgetLedger(redis: Redis, options: BudgetLedgerOptions = {}) {
  const now = options.now ?? Date.now;
  const reservationTtlMs = options.reservationTtlMs ?? RESERVATION_TTL_MS;
  const graceMs = options.provisionalGraceMs ?? PROVISIONAL_GRACE_MS;
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
        graceMs,
        ...budgets.flatMap((b) => [b.hardLimitMicros, b.floorMicros, b.floorAsOfMs]),
        pricing.model,
        pricing.tier,
      ])) as number[];
      return res[0] === 1
        ? { reserved: true, committedMicros: res.slice(2) }
        : { reserved: false, label: budgets[res[1]! - 1]!.label, committedMicros: res[2]! };
    },
    /** Model, tier and reserved cost of an open reservation, to price its real usage; undefined once settled. */
    async pending(requestId: string): Promise<{ model: string; tier: number; costMicros: number } | undefined> {
      const [model, tier, cost] = await redis.hmget(reservationKey(requestId), 'model', 'tier', 'cost');
      return model ? { model, tier: Number(tier), costMicros: Number(cost) } : undefined;
    },
    /** Idempotent: the first settle of a request wins, later ones do nothing. */
    async settle(requestId: string, actualMicros: number): Promise<boolean> {
      return (await settle([reservationKey(requestId)], [actualMicros, now()])) === 1;
    },
    /**
     * What admission counts against a budget now: the ledger's spend (the floor), what it
     * settled that the floor does not include yet, and what is in flight.
     */
    async committed(budget: BudgetSpec): Promise<{ spentMicros: number; provisionalMicros: number; reservedMicros: number }> {
      const [recent, reserved] = await Promise.all([
        redis.zrangebyscore(`${budget.key}:recent`, `(${budget.floorAsOfMs - graceMs}`, '+inf'),
        redis.hget(budget.key, 'reserved'),
      ]);
      const provisionalMicros = recent.reduce((sum, m) => sum + Number(m.slice(m.lastIndexOf(':') + 1)), 0);
      return { spentMicros: budget.floorMicros + provisionalMicros, provisionalMicros, reservedMicros: Number(reserved ?? 0) };
    },
  });
}

export type BudgetLedger = ReturnType<typeof createBudgetLedger>;
