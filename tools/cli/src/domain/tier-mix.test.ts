import { describe, expect, it } from 'vitest';
import { drawTier, parseTierMix, seededRandom } from './tier-mix.js';

describe('tier mix', () => {
  it('parses weights and leaves unnamed tiers at 0', () => {
    expect(parseTierMix('realtime=60,internal=30,batch=10')).toEqual({ realtime: 60, internal: 30, batch: 10 });
    expect(parseTierMix('batch=1')).toEqual({ realtime: 0, internal: 0, batch: 1 });
  });

  it('refuses what it cannot read', () => {
    expect(() => parseTierMix('urgent=5')).toThrow('unknown tier "urgent"');
    expect(() => parseTierMix('realtime:5')).toThrow('is not tier=weight');
    expect(() => parseTierMix('realtime=0')).toThrow('every weight is 0');
  });

  it('draws tiers in proportion to their weights, the same for the same seed', () => {
    const mix = parseTierMix('realtime=60,internal=30,batch=10');
    const random = seededRandom(7);
    const n = { realtime: 0, internal: 0, batch: 0 };
    for (let i = 0; i < 20_000; i++) n[drawTier(mix, random())]++;
    expect(n.realtime / 20_000).toBeCloseTo(0.6, 1);
    expect(n.internal / 20_000).toBeCloseTo(0.3, 1);
    expect(n.batch / 20_000).toBeCloseTo(0.1, 1);
    const again = seededRandom(7);
    const first = seededRandom(7);
    expect(Array.from({ length: 5 }, () => again())).toEqual(Array.from({ length: 5 }, () => first()));
  });

  it('never draws a tier of weight 0', () => {
    const mix = parseTierMix('internal=1');
    expect(drawTier(mix, 0)).toBe('internal');
    expect(drawTier(mix, 0.999999)).toBe('internal');
  });
});
