import { describe, expect, it } from 'vitest';
import { CLOSED, afterFailure, afterProbe, afterSuccess, isOpen, probeDue } from './circuit-breaker.js';

describe('the circuit breaker of an upstream', () => {
  it('opens after three failures in a row, not after two separated by a success', () => {
    let b = afterFailure(CLOSED, 0, 'HTTP 500');
    b = afterFailure(b, 1, 'HTTP 500');
    expect(isOpen(b)).toBe(false);
    expect(isOpen(afterFailure(afterSuccess(), 2, 'HTTP 500'))).toBe(false);
    b = afterFailure(b, 2, 'connection refused');
    expect(b).toMatchObject({ kind: 'open', untilMs: 2_002, lastFailure: 'connection refused' });
  });
  it('probes once its time is up; a failed probe doubles the wait up to the cap, a good one closes it', () => {
    const open = afterFailure(afterFailure(afterFailure(CLOSED, 0, 'x'), 0, 'x'), 0, 'x', { openMs: 1_000, maxOpenMs: 3_000 });
    expect(probeDue(open, 999)).toBe(false);
    expect(probeDue(open, 1_000)).toBe(true);
    const again = afterProbe(open, false, 1_000, 'probe answered HTTP 503', { openMs: 1_000, maxOpenMs: 3_000 });
    expect(again).toMatchObject({ kind: 'open', untilMs: 3_000, openMs: 2_000, sinceMs: 0 });
    const capped = afterProbe(again, false, 3_000, 'probe failed', { openMs: 1_000, maxOpenMs: 3_000 });
    expect(capped).toMatchObject({ untilMs: 6_000, openMs: 3_000 });
    expect(afterProbe(capped, true, 6_000, 'ok')).toEqual(CLOSED);
  });
});
