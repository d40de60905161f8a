import type { TierName } from '@switchyard/contracts';

/** Shares of requests per tier; they need not add up to 100, they are weights. */
export type TierMix = Readonly<Record<TierName, number>>;

/** 60/30/10, the mix `pnpm bench:scheduling` draws too. */
export const DEFAULT_TIER_MIX: TierMix = { realtime: 60, internal: 30, batch: 10 };

const TIERS = ['realtime', 'internal', 'batch'] as const;

/** Reads `realtime=60,internal=30,batch=10`; a tier left out gets no requests. */
export function parseTierMix(text: string): TierMix {
  const mix: Record<TierName, number> = { realtime: 0, internal: 0, batch: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw new Error(`--tier-mix: "${part}" is not tier=weight (e.g. realtime=60,internal=30,batch=10)`);
    if (!(TIERS as readonly string[]).includes(m[1]!)) throw new Error(`--tier-mix: unknown tier "${m[1]}" (realtime, internal, batch)`);
    mix[m[1] as TierName] = Number(m[2]);
  }
  if (TIERS.every((t) => mix[t] === 0)) throw new Error('--tier-mix: every weight is 0');
  return mix;
}

/** The tier a uniform draw `u` in [0, 1) falls on. */
export function drawTier(mix: TierMix, u: number): TierName {
  const total = TIERS.reduce((a, t) => a + mix[t], 0);
  let edge = 0;
  for (const t of TIERS) {
    edge += mix[t] / total;
    if (u < edge && mix[t] > 0) return t;
  }
  return [...TIERS].reverse().find((t) => mix[t] > 0)!;
}

/** Deterministic uniform draws in [0, 1) (mulberry32): one seed, the same requests every run. */
export function seededRandom(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
