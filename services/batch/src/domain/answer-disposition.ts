/**
 * What to do with admission's answer to one batch line: keep it (it is the line's result),
 * try again later without spending an attempt (a rate limit that names its wait), or try
 * again with backoff while attempts remain (the platform was briefly unable).
 */
export type Disposition =
  | { readonly kind: 'settle'; readonly succeeded: boolean }
  | { readonly kind: 'wait'; readonly delayMs: number }
  | { readonly kind: 'retry'; readonly reason: string };

export interface AnswerSummary {
  /** HTTP status, or 0 when admission could not be reached. */
  readonly status: number;
  /** OpenAI error code from the body, when there was one. */
  readonly errorCode?: string;
  readonly retryAfterMs?: number;
}

/** Waits longer than this count as a retry with backoff rather than a hold. */
const MAX_WAIT_MS = 60_000;

export function dispose(answer: AnswerSummary): Disposition {
  const { status } = answer;
  if (status === 200) return { kind: 'settle', succeeded: true };
  // An exhausted budget does not refill by waiting a second: the line fails with admission's answer.
  if (status === 429 && answer.errorCode === 'insufficient_quota') return { kind: 'settle', succeeded: false };
  if (status === 429) return { kind: 'wait', delayMs: Math.min(MAX_WAIT_MS, answer.retryAfterMs ?? 1_000) };
  if (status === 0 || status >= 500) return { kind: 'retry', reason: status ? `admission answered ${status}` : 'admission unreachable' };
  // 4xx: the request itself is wrong; trying it again gives the same answer.
  return { kind: 'settle', succeeded: false };
}
