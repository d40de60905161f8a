/**
 * A provider's rate limits as capacity: requests and tokens per minute (Azure OpenAI and OpenAI
 * count a request's prompt plus its max_tokens against the token limit when it arrives). The
 * window slides over the last 60 s of requests this process sent; `room` is how many more the
 * limits allow now, at the mean size of the recent ones.
 */
export interface RateLimits {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
}

const WINDOW_MS = 60_000;

export interface RateWindow {
  /** A request went upstream at `nowMs`, counting `tokens` (prompt + max_tokens) against the limit. */
  record(nowMs: number, tokens: number): void;
  /** Requests the limits allow now; Infinity without limits. */
  room(nowMs: number): number;
  /** When the oldest request leaves the window (more room), or undefined when none is in it. */
  nextFreeAtMs(nowMs: number): number | undefined;
}

export function createRateWindow(limits: RateLimits): RateWindow {
  const sent: Array<{ atMs: number; tokens: number }> = [];
  let tokensInWindow = 0;
  const expire = (nowMs: number) => {
    while (sent.length > 0 && sent[0]!.atMs <= nowMs - WINDOW_MS) tokensInWindow -= sent.shift()!.tokens;
  };
  return {
    record(nowMs, tokens) {
      expire(nowMs);
      sent.push({ atMs: nowMs, tokens });
      tokensInWindow += tokens;
    },
    room(nowMs) {
      expire(nowMs);
      const byRequests = limits.requestsPerMinute === undefined ? Infinity : limits.requestsPerMinute - sent.length;
      if (limits.tokensPerMinute === undefined) return Math.max(0, byRequests);
      const mean = sent.length > 0 ? tokensInWindow / sent.length : 1;
      const byTokens = Math.floor((limits.tokensPerMinute - tokensInWindow) / Math.max(1, mean));
      return Math.max(0, Math.min(byRequests, byTokens));
    },
    nextFreeAtMs(nowMs) {
      expire(nowMs);
      return sent.length > 0 ? sent[0]!.atMs + WINDOW_MS : undefined;
    },
  };
}
