import { describe, expect, it } from 'vitest';
import { parsePeriod, periodOf } from './period.js';

describe('periodOf', () => {
  it('is the UTC month, whatever the last millisecond or the first', () => {
    expect(periodOf(Date.UTC(2026, 10, 30, 23, 59, 59, 999))).toEqual({ period: '2026-11', startMs: Date.UTC(2026, 10, 1), endMs: Date.UTC(2026, 11, 1) });
    expect(periodOf(Date.UTC(2026, 11, 1)).period).toBe('2026-12');
  });

  it('crosses December into January of the next year', () => {
    expect(periodOf(Date.UTC(2030, 11, 31, 23, 59, 59, 999))).toEqual({ period: '2030-12', startMs: Date.UTC(2030, 11, 1), endMs: Date.UTC(2031, 0, 1) });
    expect(periodOf(Date.UTC(2031, 0, 1))).toEqual({ period: '2031-01', startMs: Date.UTC(2031, 0, 1), endMs: Date.UTC(2031, 1, 1) });
  });

  it('knows February of leap years and pads small years', () => {
    expect(periodOf(Date.UTC(2028, 1, 29, 12)).endMs - Date.UTC(2028, 1, 1)).toBe(29 * 86_400_000);
    expect(periodOf(Date.UTC(2027, 1, 28, 12)).endMs - Date.UTC(2027, 1, 1)).toBe(28 * 86_400_000);
    expect(periodOf(0).period).toBe('1970-01');
  });
});

describe('parsePeriod', () => {
  it('reads YYYY-MM back into the same month', () => {
    expect(parsePeriod('2030-12')).toEqual(periodOf(Date.UTC(2030, 11, 15)));
    expect(parsePeriod('2031-01')).toEqual(periodOf(Date.UTC(2031, 0, 1)));
  });

  it('refuses what is not a month', () => {
    for (const text of ['2030-13', '2030-00', '2030-1', '30-01', '2030-01-01', '', ' 2030-01']) expect(parsePeriod(text), text).toBeUndefined();
  });
});
