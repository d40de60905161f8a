import { describe, expect, it } from 'vitest';
import { parseReplayStream, parseReplayTime, replayFilter, replayWindow } from './replay-window.js';

const NOW = Date.parse('2026-12-06T08:00:00Z');

describe('replay window', () => {
  it('names the streams there are for an unknown one', () => {
    expect(() => parseReplayStream('USAGES')).toThrow('unknown stream USAGES; streams: USAGE, LIFECYCLE, DECISIONS, REQUESTS, BILLING');
    expect(parseReplayStream('usage')).toBe('USAGE');
  });

  it('reads ISO times (UTC unless zoned), now, and durations ago', () => {
    expect(parseReplayTime('--since', '2026-12-06T07:00', NOW)).toBe(Date.parse('2026-12-06T07:00:00Z'));
    expect(parseReplayTime('--since', '2026-12-06T07:00+01:00', NOW)).toBe(Date.parse('2026-12-06T06:00:00Z'));
    expect(parseReplayTime('--since', '2026-12-05', NOW)).toBe(Date.parse('2026-12-05T00:00:00Z'));
    expect(parseReplayTime('--since', '30m', NOW)).toBe(NOW - 30 * 60_000);
    expect(parseReplayTime('--since', '1h', NOW)).toBe(NOW - 3_600_000);
    expect(parseReplayTime('--until', 'now', NOW)).toBe(NOW);
  });

  it('names the flag and the accepted forms for a bad time', () => {
    expect(() => parseReplayTime('--until', 'yesterday', NOW)).toThrow(
      /^--until "yesterday" is not a time: give an ISO time .*"now", or a duration ago \(90s, 30m, 1h, 7d\)$/,
    );
    expect(() => parseReplayTime('--since', '12', NOW)).toThrow(/--since "12" is not a time/);
  });

  it('refuses a window that ends before it starts', () => {
    expect(() => replayWindow('1h', '2h', NOW)).toThrow(/--until .* is before --since/);
    expect(replayWindow('2h', undefined, NOW)).toEqual({ sinceMs: NOW - 7_200_000, untilMs: NOW });
  });

  it('filters on the tenant token where one stream subject holds every tenant (nats-server 2.9)', () => {
    expect(replayFilter('USAGE', 'acme')).toBe('usage.recorded.acme');
    expect(replayFilter('BILLING')).toBe('billing.usage.*');
    expect(replayFilter('DECISIONS', 'acme')).toBe('decisions.*.acme');
    expect(replayFilter('LIFECYCLE', 'acme')).toBeUndefined();
    expect(replayFilter('REQUESTS', 'acme')).toBeUndefined();
    expect(() => replayFilter('USAGE', 'a.>')).toThrow(/--tenant "a.>" is not a tenant id/);
  });
});
