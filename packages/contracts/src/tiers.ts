import { Outcome, Tier } from './gen/switchyard/v1/common.js';
import { TIERS, type OutcomeName, type TierName } from './subjects.js';

const tierNames: Record<number, TierName> = {
  [Tier.TIER_REALTIME]: 'realtime',
  [Tier.TIER_INTERNAL]: 'internal',
  [Tier.TIER_BATCH]: 'batch',
};

/** Subject/config name of a proto tier; UNSPECIFIED has none. */
export function tierName(tier: Tier): TierName | undefined {
  return tierNames[tier];
}

export function tierFromName(name: TierName): Tier {
  return { realtime: Tier.TIER_REALTIME, internal: Tier.TIER_INTERNAL, batch: Tier.TIER_BATCH }[name];
}

/** The tier a text (header, flag, setting, stored column) names; undefined when it names none. */
export function parseTier(text: string): TierName | undefined {
  return (TIERS as readonly string[]).includes(text) ? (text as TierName) : undefined;
}

/** The proto tier a text names (a stored tier column, say); UNSPECIFIED when it names none. */
export function tierFromText(text: string): Tier {
  const name = parseTier(text);
  return name ? tierFromName(name) : Tier.TIER_UNSPECIFIED;
}

/** How a proto tier is stored and labelled: its name, or `unspecified` when it has none. */
export function tierLabel(tier: Tier): TierName | 'unspecified' {
  return tierName(tier) ?? 'unspecified';
}

/** Serving order: realtime (0) before internal (1) before batch (2); lower goes first. */
export const TIER_RANK: Readonly<Record<TierName, number>> = { realtime: 0, internal: 1, batch: 2 };

const outcomeNames: Record<number, OutcomeName> = {
  [Outcome.OUTCOME_COMPLETED]: 'completed',
  [Outcome.OUTCOME_FAILED]: 'failed',
  [Outcome.OUTCOME_CANCELLED]: 'cancelled',
  [Outcome.OUTCOME_EXPIRED]: 'expired',
  [Outcome.OUTCOME_REJECTED]: 'rejected',
};

/** Lifecycle subject name of a terminal outcome. */
export function outcomeName(outcome: Outcome): OutcomeName {
  const name = outcomeNames[outcome];
  if (!name) throw new Error(`outcome ${outcome} is not terminal`);
  return name;
}

/**
 * Calls one tenant may run at once per tier in one admission process (admission's
 * `TENANT_IN_FLIGHT`); the rest wait there, first come first served. Realtime is paced only
 * against abuse; internal and batch work, which come in bursts of hundreds, go through a few
 * dozen at a time, so their queues never stand between another tenant and its first token.
 * The forecast simulates the same pacing.
 */
export const DEFAULT_TENANT_IN_FLIGHT: Readonly<Record<TierName, number>> = { realtime: 256, internal: 16, batch: 8 };

/** `internal=64,batch=32` as limits per tier; throws naming the part that is not `tier=count` (count >= 1). */
export function parseTierCounts(text: string): Partial<Record<TierName, number>> {
  const limits: Partial<Record<TierName, number>> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, n] = part.split('=');
    const tier = parseTier(name?.trim() ?? '');
    const count = Number(n);
    if (tier === undefined || !Number.isInteger(count) || count < 1) {
      throw new Error(`expected tier=count with tier realtime, internal or batch and count >= 1, got "${part}"`);
    }
    limits[tier] = count;
  }
  return limits;
}
