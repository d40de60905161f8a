import type { Redis } from 'ioredis';
import { unavailableOnRedisOutage } from './redis-outage.js';
import { redisScript } from './redis-script.js';
import { Outcome, RequestState, Tier, type TokenUsage } from '@switchyard/contracts';

/** What GetRequest returns about a request. */
export interface RequestRecord {
  readonly requestId: string;
  readonly tenant: string;
  readonly state: RequestState;
  readonly model: string;
  readonly tier: Tier;
  readonly admittedUnixMs: number;
  readonly finishedUnixMs: number;
  readonly usage: TokenUsage;
  readonly reason: string;
}

const stateByOutcome: Record<number, RequestState> = {
  [Outcome.OUTCOME_COMPLETED]: RequestState.REQUEST_STATE_COMPLETED,
  [Outcome.OUTCOME_FAILED]: RequestState.REQUEST_STATE_FAILED,
  [Outcome.OUTCOME_CANCELLED]: RequestState.REQUEST_STATE_CANCELLED,
  [Outcome.OUTCOME_EXPIRED]: RequestState.REQUEST_STATE_EXPIRED,
  [Outcome.OUTCOME_REJECTED]: RequestState.REQUEST_STATE_REJECTED,
};

const RETENTION_S = 7 * 24 * 3600;
const key = (requestId: string) => `sy:req:${requestId}`;

/*
 * The two writes commute, so admission need not wait for the first before publishing the
 * request: whichever lands first, the record ends with the request's facts and its final state.
 */

/** Writes what admission knows; the state only if no terminal outcome got there first. */
const ADMIT = `redis.call('HSET', KEYS[1], 'tenant', ARGV[1], 'model', ARGV[2], 'tier', ARGV[3], 'admitted', ARGV[4])
redis.call('HSETNX', KEYS[1], 'state', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1`;

/** Only a record still ADMITTED (or not written yet) moves: a redelivered terminal event never rewrites history. */
const TERMINATE = `local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished', ARGV[3], 'in', ARGV[4], 'out', ARGV[5], 'reason', ARGV[6], 'cached', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1`;

/** Request state in Redis, so any admission replica can answer GetRequest. */
export function createRequestStore(redis: Redis) {
  const admit = redisScript(redis, ADMIT);
  const terminate = redisScript(redis, TERMINATE);
  return unavailableOnRedisOutage({
    async admitted(r: { requestId: string; tenant: string; model: string; tier: Tier; admittedUnixMs: number }) {
      await admit([key(r.requestId)], [r.tenant, r.model, r.tier, r.admittedUnixMs, RequestState.REQUEST_STATE_ADMITTED, RETENTION_S]);
    },

    /** Records the terminal outcome; the first one wins, as the lifecycle invariant says. */
    async terminated(r: { requestId: string; outcome: Outcome; usage?: TokenUsage; reason: string; atUnixMs: number }) {
      await terminate(
        [key(r.requestId)],
        [
          RequestState.REQUEST_STATE_ADMITTED,
          stateByOutcome[r.outcome] ?? RequestState.REQUEST_STATE_FAILED,
          r.atUnixMs,
          r.usage?.inputTokens ?? 0,
          r.usage?.outputTokens ?? 0,
          r.reason,
          RETENTION_S,
          r.usage?.cachedInputTokens ?? 0,
        ],
      );
    },

    /** Forgets a request that never left admission (its publish failed): no ghost stays ADMITTED. */
    async discard(requestId: string) {
      await redis.del(key(requestId));
    },

    async get(requestId: string): Promise<RequestRecord | undefined> {
      const h = await redis.hgetall(key(requestId));
      if (!h.tenant) return undefined;
      return {
        requestId,
        tenant: h.tenant,
        state: Number(h.state) as RequestState,
        model: h.model ?? '',
        tier: Number(h.tier) as Tier,
        admittedUnixMs: Number(h.admitted ?? 0),
        finishedUnixMs: Number(h.finished ?? 0),
        usage: { inputTokens: Number(h.in ?? 0), cachedInputTokens: Number(h.cached ?? 0), outputTokens: Number(h.out ?? 0) },
        reason: h.reason ?? '',
      };
    },
  });
}

export type RequestStore = ReturnType<typeof createRequestStore>;
