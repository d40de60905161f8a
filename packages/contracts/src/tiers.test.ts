import { describe, expect, it } from 'vitest';
import { Tier } from './gen/switchyard/v1/common.js';
import { TIERS } from './subjects.js';
import { parseTier, TIER_RANK, tierFromName, tierFromText, tierLabel, tierName } from './tiers.js';

describe('tiers', () => {
  it('parses exactly the three tier names', () => {
    expect(TIERS.map(parseTier)).toEqual(['realtime', 'internal', 'batch']);
    for (const text of ['', 'Realtime', 'BATCH', ' batch', 'unspecified', 'toString', 'constructor', '__proto__'])
      expect(parseTier(text), text).toBeUndefined();
  });

  it('ranks realtime before internal before batch', () => {
    expect(TIER_RANK).toEqual({ realtime: 0, internal: 1, batch: 2 });
    expect([...TIERS].reverse().sort((a, b) => TIER_RANK[a] - TIER_RANK[b])).toEqual(['realtime', 'internal', 'batch']);
  });

  it('maps names to proto tiers and back; UNSPECIFIED has no name', () => {
    expect(TIERS.map(tierFromName)).toEqual([Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH]);
    for (const name of TIERS) expect(tierName(tierFromName(name))).toBe(name);
    expect(tierName(Tier.TIER_UNSPECIFIED)).toBeUndefined();
  });

  it('reads a stored tier back, UNSPECIFIED for anything else, and labels UNSPECIFIED as stored', () => {
    expect(['realtime', 'internal', 'batch', 'unspecified', '', 'Batch'].map(tierFromText)).toEqual([
      Tier.TIER_REALTIME,
      Tier.TIER_INTERNAL,
      Tier.TIER_BATCH,
      Tier.TIER_UNSPECIFIED,
      Tier.TIER_UNSPECIFIED,
      Tier.TIER_UNSPECIFIED,
    ]);
    expect([Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH, Tier.TIER_UNSPECIFIED, 99 as Tier].map(tierLabel)).toEqual([
      'realtime',
      'internal',
      'batch',
      'unspecified',
      'unspecified',
    ]);
    for (const t of [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH, Tier.TIER_UNSPECIFIED]) expect(tierFromText(tierLabel(t))).toBe(t);
  });
});
