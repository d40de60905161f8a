import { describe, expect, it } from 'vitest';
import { dispose } from './answer-disposition.js';

describe('dispose', () => {
  it.each([
    [{ status: 200 }, { kind: 'settle', succeeded: true }],
    [
      { status: 404, errorCode: 'model_not_found' },
      { kind: 'settle', succeeded: false },
    ],
    [{ status: 400 }, { kind: 'settle', succeeded: false }],
    [
      { status: 429, errorCode: 'insufficient_quota' },
      { kind: 'settle', succeeded: false },
    ],
    [
      { status: 429, errorCode: 'rate_limit_exceeded', retryAfterMs: 3_000 },
      { kind: 'wait', delayMs: 3_000 },
    ],
    [
      { status: 429, retryAfterMs: 600_000 },
      { kind: 'wait', delayMs: 60_000 },
    ],
    [{ status: 503 }, { kind: 'retry', reason: 'admission answered 503' }],
    [{ status: 0 }, { kind: 'retry', reason: 'admission unreachable' }],
  ])('%j -> %j', (answer, expected) => {
    expect(dispose(answer)).toEqual(expected);
  });
});
