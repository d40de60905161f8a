import { describe, expect, it } from 'vitest';
import { failureReason, failureSummary, httpFailure, isPlatformFailure, isRequestError, retryAfterMs } from './failures.js';

const before = { pool: 'vllm-a', chunksSent: 0, tokensSent: 0 };
const midway = { pool: 'vllm-a', chunksSent: 3, tokensSent: 5 };

describe('upstream failures', () => {
  it('names the status, retry-after and when it happened', () => {
    expect(failureReason(httpFailure(429, '{"error": "slow down"}\n', '2'), before)).toBe(
      'upstream of pool vllm-a rate-limited the request (HTTP 429, retry-after 2) before its first token: {"error": "slow down"}',
    );
    expect(failureReason(httpFailure(503, '', null), before)).toBe('upstream of pool vllm-a answered HTTP 503 before its first token');
  });

  it('tells a refused connection from a stream cut after tokens, and both timeouts apart', () => {
    expect(failureReason({ kind: 'connection', detail: 'ECONNRESET' }, before)).toMatch(/connection failed before its first token: ECONNRESET/);
    expect(failureReason({ kind: 'connection', detail: 'ECONNRESET' }, midway)).toMatch(/stream cut after 3 chunks \(5 tokens\)/);
    expect(failureReason({ kind: 'timeout', phase: 'first-token', afterMs: 500 }, before)).toMatch(/no token within 500 ms/);
    expect(failureReason({ kind: 'timeout', phase: 'idle', afterMs: 500 }, midway)).toMatch(/silent for 500 ms \(timed out after 3 chunks/);
  });
  it('reads retry-after as seconds or a date, and tells a busy or refused request from a broken upstream', () => {
    expect(retryAfterMs('2', 0)).toBe(2_000);
    expect(retryAfterMs(new Date(5_000).toUTCString(), 1_000)).toBe(4_000);
    expect(retryAfterMs(undefined, 0)).toBe(1_000);
    expect(retryAfterMs('soon', 0)).toBe(1_000);
    expect(isPlatformFailure(httpFailure(429, '', '1'))).toBe(false);
    expect(isPlatformFailure(httpFailure(400, 'context too long', null))).toBe(false);
    expect(isRequestError(httpFailure(400, '', null))).toBe(true);
    expect(isPlatformFailure(httpFailure(503, '', null))).toBe(true);
    expect(isPlatformFailure(httpFailure(401, '', null))).toBe(true);
    expect(isPlatformFailure({ kind: 'timeout', phase: 'first-token', afterMs: 1 })).toBe(true);
  });
  it('sums a failure up in a few words for the breaker, whenever it happened', () => {
    expect(failureSummary(httpFailure(503, '', null))).toBe('HTTP 503');
    expect(failureSummary({ kind: 'connection', detail: 'ECONNRESET' })).toBe('connection: ECONNRESET');
    expect(failureSummary({ kind: 'timeout', phase: 'idle', afterMs: 500 })).toBe('silent for 500 ms');
  });
});
