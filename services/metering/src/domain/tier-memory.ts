/**
 * Remembers the tier of recently admitted requests, so terminal outcomes (whose events
 * carry no tier) can be counted per tier. Bounded: the oldest entries go first. A replica
 * that did not see a request's admission reports its outcome under tier `unknown`.
 */
export function createTierMemory(capacity = 100_000) {
  const tiers = new Map<string, string>();
  return {
    remember(requestId: string, tier: string) {
      if (tiers.size >= capacity) tiers.delete(tiers.keys().next().value!);
      tiers.set(requestId, tier);
    },
    /** The tier, forgetting the request: it has ended. */
    take(requestId: string): string {
      const tier = tiers.get(requestId);
      tiers.delete(requestId);
      return tier ?? 'unknown';
    },
    get size() {
      return tiers.size;
    },
  };
}
