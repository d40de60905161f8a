import { TIER_RANK, type TierName } from '@switchyard/contracts';

/** A dispatched request waiting in a pool's queue. */
export interface Queued {
  readonly requestId: string;
  readonly tenant: string;
  readonly tier: TierName;
  /** Its turn among the tenants of its tier (see `createTenantTurns`), booked when it arrived. */
  readonly turn: number;
  /** Absolute deadline, Unix ms; 0 for none. */
  readonly deadlineUnixMs: number;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly enqueuedUnixMs: number;
}

export interface FormingRules {
  /** Most requests in one batch. */
  readonly maxRequests: number;
  /** Most prompt tokens in one batch, so one huge prompt does not stall many small ones. */
  readonly maxPromptTokens: number;
  /** Longest a request waits for company before its batch goes anyway. */
  readonly maxWaitMs: Readonly<Record<TierName, number>>;
  /** A batch this size goes at once (the model's sweet spot). */
  readonly preferredSize: number;
}

/** What the pool's workers can take now, from their heartbeats. */
export interface Capacity {
  readonly freeSlots: number;
  /** KV-cache tokens free across the pool; a request needs prompt + max_tokens. */
  readonly freeKvTokens: number;
}

export interface Forming<T extends Queued> {
  /** Requests to send now, in priority order; empty when nothing should go yet. */
  readonly batch: T[];
  /** Requests whose deadline already passed: expire them, do not send them. */
  readonly expired: T[];
  /** When to look again if nothing arrives, ms; undefined when the queue is empty. */
  readonly nextCheckMs: number | undefined;
}

/** Realtime before internal before batch; earliest deadline first; then arrival order. */
export function byUrgency(a: Queued, b: Queued): number {
  return TIER_RANK[a.tier] - TIER_RANK[b.tier] || (a.deadlineUnixMs || Infinity) - (b.deadlineUnixMs || Infinity) || a.enqueuedUnixMs - b.enqueuedUnixMs;
}

/**
 * Serving order: by tier, then by turn, so the tenants of a tier take turns and one tenant's
 * flood does not hold everyone else's requests behind all of it; then by urgency. A tenant's
 * own requests use its turns in order of urgency (its earliest deadline takes its first
 * turn), whatever order they arrived in.
 */
export function fairOrder<T extends Queued>(queue: readonly T[]): T[] {
  const urgent = [...queue].sort(byUrgency);
  const byTenant = new Map<string, T[]>();
  for (const q of urgent) {
    const key = `${q.tier}\u0000${q.tenant}`;
    const mine = byTenant.get(key);
    if (mine) mine.push(q);
    else byTenant.set(key, [q]);
  }
  const turnOf = new Map<T, number>();
  for (const mine of byTenant.values()) {
    const turns = mine.map((q) => q.turn).sort((a, b) => a - b);
    mine.forEach((q, i) => turnOf.set(q, turns[i]!));
  }
  // Stable: equal turns keep their urgency order.
  return urgent.sort((a, b) => TIER_RANK[a.tier] - TIER_RANK[b.tier] || turnOf.get(a)! - turnOf.get(b)!);
}

/**
 * Decides what leaves the queue now, in {@link fairOrder}. A batch goes when a request has
 * waited its tier's maximum, when its deadline leaves no more room to wait, or when a
 * preferred-size batch is ready — and only as far as the workers have announced room, so queues build up
 * here, where priorities still apply, rather than inside the workers.
 */
export function formBatch<T extends Queued>(queue: readonly T[], capacity: Capacity, rules: FormingRules, nowMs: number): Forming<T> {
  const expired = queue.filter((q) => q.deadlineUnixMs > 0 && q.deadlineUnixMs <= nowMs);
  const live = fairOrder(queue.filter((q) => !(q.deadlineUnixMs > 0 && q.deadlineUnixMs <= nowMs)));
  if (live.length === 0) return { batch: [], expired, nextCheckMs: undefined };

  // The most urgent request need not be first in turn: whichever falls due first sets the time.
  let dueAt = Infinity;
  for (const q of live) {
    const wait = rules.maxWaitMs[q.tier];
    dueAt = Math.min(dueAt, q.enqueuedUnixMs + wait, q.deadlineUnixMs > 0 ? q.deadlineUnixMs - wait : Infinity);
  }
  const room = Math.min(rules.maxRequests, capacity.freeSlots);
  const batch: T[] = [];
  let promptTokens = 0;
  let kvTokens = 0;
  for (const q of live) {
    if (batch.length >= room) break;
    const need = q.promptTokens + q.maxTokens;
    if (kvTokens + need > capacity.freeKvTokens) {
      // The first in order waits for cache room rather than be overtaken forever.
      if (batch.length === 0) break;
      continue;
    }
    // A prompt over the batch's token limit still travels, alone.
    if (batch.length > 0 && promptTokens + q.promptTokens > rules.maxPromptTokens) continue;
    batch.push(q);
    promptTokens += q.promptTokens;
    kvTokens += need;
  }
  const full = batch.length >= Math.min(rules.preferredSize, room);
  if (batch.length === 0 || (!full && nowMs < dueAt)) {
    // Nothing fits, or company may still come: look again when the first falls due.
    return { batch: [], expired, nextCheckMs: Math.max(1, dueAt - nowMs) };
  }
  return { batch, expired, nextCheckMs: live.length > batch.length ? 0 : undefined };
}
