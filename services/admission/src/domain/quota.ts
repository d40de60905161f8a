import type { TierLimits } from '@switchyard/auth';
import type { TierName } from '@switchyard/contracts';

/** One token bucket: `perMinute` tokens a minute, refilled continuously; a call takes `cost`. */
export interface BucketSpec {
  readonly key: string;
  /** What the limit is, for the refusal message, e.g. "realtime requests/min". */
  readonly label: string;
  readonly perMinute: number;
  readonly cost: number;
}

/**
 * The buckets a request draws from: requests/min and tokens/min of its tenant and tier.
 * Tokens count the prompt plus max_tokens, the most the request can consume.
 */
export function rateBuckets(tenant: string, tier: TierName, limits: TierLimits, tokens: number): BucketSpec[] {
  return [
    { key: `sy:rl:${tenant}:${tier}:req`, label: `${tier} requests/min (${limits.requestsPerMinute})`, perMinute: limits.requestsPerMinute, cost: 1 },
    { key: `sy:rl:${tenant}:${tier}:tok`, label: `${tier} tokens/min (${limits.tokensPerMinute})`, perMinute: limits.tokensPerMinute, cost: tokens },
  ];
}
