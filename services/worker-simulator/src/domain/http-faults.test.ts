import { describe, expect, it } from 'vitest';
import { FaultSpecError, cutIndex, decideFault, engineHung, parseHttpFaults } from './http-faults.js';

describe('parseHttpFaults', () => {
  it('takes each kind of fault, and none', () => {
    expect(parseHttpFaults({})).toEqual({});
    expect(parseHttpFaults({ status: 429, retryAfterS: 2 })).toEqual({ status: 429, retryAfterS: 2 });
    expect(parseHttpFaults({ cutAfterTokens: 3, fraction: 0.5 })).toEqual({ cutAfterTokens: 3, fraction: 0.5 });
    expect(parseHttpFaults({ hang: true })).toEqual({ hang: true });
  });

  it.each([
    [[], 'JSON object'],
    [{ status: 200 }, '"status"'],
    [{ status: 429.5 }, '"status"'],
    [{ cutAfterTokens: -1 }, '"cutAfterTokens"'],
    [{ hang: 'yes' }, '"hang"'],
    [{ fraction: 1.5 }, '"fraction"'],
    [{ retryAfterS: 2 }, '"retryAfterS" goes with "status"'],
    [{ status: 500, hang: true }, 'one of'],
    [{ slow: 3 }, 'unknown field "slow"'],
  ])('refuses %j, naming what is wrong', (spec, message) => {
    expect(() => parseHttpFaults(spec)).toThrow(FaultSpecError);
    expect(() => parseHttpFaults(spec)).toThrow(message);
  });
});

describe('decideFault', () => {
  it('hits every call without a fraction', () => {
    expect(decideFault({ status: 429, retryAfterS: 2 }, 0.999)).toEqual({ kind: 'status', status: 429, retryAfterS: 2 });
    expect(decideFault({ hang: true }, 0.5)).toEqual({ kind: 'hang' });
    expect(decideFault({ cutAfterTokens: 4 }, 0)).toEqual({ kind: 'cut', afterTokens: 4 });
    expect(decideFault({}, 0)).toEqual({ kind: 'none' });
  });

  it('hits only the share of calls whose draw falls within the fraction', () => {
    const faults = { status: 500, fraction: 0.25 };
    const draws = Array.from({ length: 100 }, (_, i) => i / 100);
    expect(draws.filter((d) => decideFault(faults, d).kind === 'status')).toHaveLength(25);
    expect(decideFault({ status: 500, fraction: 0 }, 0).kind).toBe('none');
  });
});

describe('engineHung', () => {
  it('stops the whole engine only for a hang of every call', () => {
    expect(engineHung({ hang: true })).toBe(true);
    expect(engineHung({ hang: true, fraction: 0.5 })).toBe(false);
    expect(engineHung({ status: 500 })).toBe(false);
  });
});

describe('cutIndex', () => {
  it('cuts after the tokens asked for, but always before the last token', () => {
    expect(cutIndex(3, 10)).toBe(3);
    expect(cutIndex(0, 10)).toBe(0);
    expect(cutIndex(50, 10)).toBe(9);
    expect(cutIndex(5, 1)).toBe(0);
  });
});
