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
