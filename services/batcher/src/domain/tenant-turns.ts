import type { TierName } from '@switchyard/contracts';

/**
 * Turns of a pool's queue, per tier: start-time fair queuing with one turn per request. A
 * request's turn is the later of the tier's clock (the latest turn served) and the turn after
 * its tenant's previous request, so a tenant that floods the queue books turns far ahead,
 * while a tenant that sends at its usual rate books the next turn up and is served after at
 * most one request of each other tenant, however deep the flood. A tenant that was quiet
 * starts at the clock: it gets no credit for the time it sent nothing.
 */
export interface TenantTurns {
  /** The turn of a request of `tenant` in `tier` that arrives now. */
  book(tenant: string, tier: TierName): number;
  /** A request of `tier` holding `turn` left the queue for the GPUs: the clock moves up to it. */
  served(tier: TierName, turn: number): void;
}

/** Booked turns kept before those the clock has passed are forgotten (they book as if absent). */
const PRUNE_ABOVE = 256;

export function createTenantTurns(): TenantTurns {
  const clock: Record<TierName, number> = { realtime: 0, internal: 0, batch: 0 };
  /** The turn after each tenant's latest booking, by tier and tenant. */
  const next = new Map<string, { tier: TierName; turn: number }>();
  return {
    book(tenant, tier) {
      const key = `${tier}\u0000${tenant}`;
      const turn = Math.max(clock[tier], next.get(key)?.turn ?? 0);
      next.set(key, { tier, turn: turn + 1 });
      return turn;
    },
    served(tier, turn) {
      if (turn <= clock[tier]) return;
      clock[tier] = turn;
      if (next.size <= PRUNE_ABOVE) return;
      for (const [key, n] of next) if (n.turn <= clock[n.tier]) next.delete(key);
    },
  };
}
