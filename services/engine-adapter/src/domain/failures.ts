/** Ways an upstream call fails; every one ends the request FAILED with a reason naming it. */
export type UpstreamFailure =
  | { readonly kind: 'rate-limited'; readonly status: 429; readonly retryAfter?: string; readonly detail: string }
  | { readonly kind: 'http'; readonly status: number; readonly detail: string }
  | { readonly kind: 'timeout'; readonly phase: 'first-token' | 'idle'; readonly afterMs: number }
  | { readonly kind: 'connection'; readonly detail: string }
  | { readonly kind: 'stream-error'; readonly detail: string };

/** Where the stream was when it failed: nothing relayed yet, or some chunks already sent. */
export interface FailureContext {
  readonly pool: string;
  readonly chunksSent: number;
  readonly tokensSent: number;
}

const after = (c: FailureContext) => (c.chunksSent === 0 ? 'before its first token' : `after ${c.chunksSent} chunks (${c.tokensSent} tokens)`);

/** The FAILED reason a caller and an operator read: what the upstream did, and when. */
export function failureReason(f: UpstreamFailure, c: FailureContext): string {
  const where = `upstream of pool ${c.pool}`;
  switch (f.kind) {
    case 'rate-limited':
      return `${where} rate-limited the request (HTTP 429${f.retryAfter ? `, retry-after ${f.retryAfter}` : ''}) ${after(c)}${f.detail ? `: ${f.detail}` : ''}`;
    case 'http':
      return `${where} answered HTTP ${f.status} ${after(c)}${f.detail ? `: ${f.detail}` : ''}`;
    case 'timeout':
      return f.phase === 'first-token'
        ? `${where} sent no token within ${f.afterMs} ms (timed out ${after(c)})`
        : `${where} went silent for ${f.afterMs} ms (timed out ${after(c)})`;
    case 'connection':
      return c.chunksSent === 0 ? `${where} connection failed ${after(c)}: ${f.detail}` : `${where} stream cut ${after(c)}: ${f.detail}`;
    case 'stream-error':
      return `${where} reported an error ${after(c)}: ${f.detail}`;
  }
}

/** Maps an HTTP status that is not 2xx to its failure, keeping a short, single-line detail of the body. */
export function httpFailure(status: number, body: string, retryAfter: string | null): UpstreamFailure {
  const detail = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  if (status === 429) return { kind: 'rate-limited', status, detail, ...(retryAfter ? { retryAfter } : {}) };
  return { kind: 'http', status, detail };
}

/** Ms a `retry-after` header asks to wait (seconds or an HTTP date); `fallbackMs` when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs: number, fallbackMs = 1_000): number {
  if (!header) return fallbackMs;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 300_000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.min(Math.max(0, at - nowMs), 300_000) : fallbackMs;
}

/**
 * The upstream refused the request itself (bad request, too large, unprocessable): another pool
 * would refuse it too, and the upstream is not broken.
 */
export const isRequestError = (f: UpstreamFailure): boolean => f.kind === 'http' && [400, 413, 422].includes(f.status);

/**
 * Whether a failure says the upstream is broken and counts toward its breaker: refused or cut
 * connections, timeouts, error events, 5xx, and 401/403/404 (a wrong key or URL). A 429 only
 * says it is busy, and a request error is the request's.
 */
export const isPlatformFailure = (f: UpstreamFailure): boolean => f.kind !== 'rate-limited' && !isRequestError(f);

/** A failure in a few words, whatever the stream had sent: what a breaker remembers and shows. */
export function failureSummary(f: UpstreamFailure): string {
  switch (f.kind) {
    case 'rate-limited':
    case 'http':
      return `HTTP ${f.status}${f.detail ? `: ${f.detail}` : ''}`;
    case 'timeout':
      return f.phase === 'first-token' ? `no token within ${f.afterMs} ms` : `silent for ${f.afterMs} ms`;
    case 'connection':
      return `connection: ${f.detail}`;
    case 'stream-error':
      return `error event: ${f.detail}`;
  }
}
