import { Outcome, Tier } from './gen/switchyard/v1/common.js';
import type { OutcomeName, TierName } from './subjects.js';

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
