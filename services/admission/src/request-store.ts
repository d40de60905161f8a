import type { Redis } from 'ioredis';
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

/** Request state in Redis, so any admission replica can answer GetRequest. */
/** Only an ADMITTED record moves: a redelivered terminal event never rewrites history. */
const TERMINATE = `if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished', ARGV[3], 'in', ARGV[4], 'out', ARGV[5], 'reason', ARGV[6])
return 1`;

export function createRequestStore(redis: Redis) {
  const terminate = redisScript(redis, TERMINATE);
  return {
    async admitted(r: { requestId: string; tenant: string; model: string; tier: Tier; admittedUnixMs: number }) {
      // Pipelined, not MULTI: both commands are idempotent and one round trip is enough.
      await redis
        .pipeline()
        .hset(key(r.requestId), { tenant: r.tenant, model: r.model, tier: r.tier, state: RequestState.REQUEST_STATE_ADMITTED, admitted: r.admittedUnixMs })
        .expire(key(r.requestId), RETENTION_S)
        .exec();
    },

    /** Records the terminal outcome; the first one wins, as the lifecycle invariant says. */
    async terminated(r: { requestId: string; outcome: Outcome; usage?: TokenUsage; reason: string; atUnixMs: number }) {
      await terminate([key(r.requestId)], [
        RequestState.REQUEST_STATE_ADMITTED, stateByOutcome[r.outcome] ?? RequestState.REQUEST_STATE_FAILED, r.atUnixMs,
        r.usage?.inputTokens ?? 0, r.usage?.outputTokens ?? 0, r.reason,
      ]);
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
        usage: { inputTokens: Number(h.in ?? 0), cachedInputTokens: 0, outputTokens: Number(h.out ?? 0) },
        reason: h.reason ?? '',
      };
    },
  };
}

export type RequestStore = ReturnType<typeof createRequestStore>;
