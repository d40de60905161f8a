import { describe, expect, it } from 'vitest';
import { msUntilOpen, parseOffPeak } from './off-peak.js';

const at = (hh: number, mm = 0) => Date.UTC(2026, 11, 6, hh, mm);

describe('off-peak windows', () => {
  it('parses windows per tenant and refuses malformed ones by name', () => {
    expect(parseOffPeak('acme=22:00-06:00, globex=01:30-05:00').get('globex')).toEqual({ startMinute: 90, endMinute: 300 });
    expect(() => parseOffPeak('acme=25:00-06:00')).toThrow(/acme=25:00-06:00/);
    expect(() => parseOffPeak('acme')).toThrow(/tenant=HH:MM-HH:MM/);
  });

  it('is open inside a window that crosses midnight and says how long until it opens outside', () => {
    const w = parseOffPeak('acme=22:00-06:00').get('acme')!;
    expect(msUntilOpen(w, at(23))).toBe(0);
    expect(msUntilOpen(w, at(5, 59))).toBe(0);
    expect(msUntilOpen(w, at(6))).toBe(16 * 3600_000);
    expect(msUntilOpen(w, at(21, 30))).toBe(30 * 60_000);
  });
});
