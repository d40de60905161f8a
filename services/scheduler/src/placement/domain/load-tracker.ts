import type { TierName } from '@switchyard/contracts';

/** Requests sent to a pool that have not ended yet: queued in its batcher or on its GPUs. */
export interface Outstanding {
  readonly total: number;
  readonly byTier: Readonly<Record<TierName, number>>;
  readonly promptTokens: number;
  /** Sum of their max_tokens: the decode work still ahead, at most. */
  readonly outputTokens: number;
  /** Sum of their prompts' prefill GPU ms. */
  readonly prefillMs: number;
  /** Per tenant, per tier: the batcher serves the tenants of a tier in turns. A tenant with none is absent. */
  readonly byTenant: ReadonlyMap<string, Readonly<Record<TierName, number>>>;
}

export const NOTHING_OUTSTANDING: Outstanding = noTotals();

interface Entry {
  readonly pool: string;
  readonly tenant: string;
  readonly tier: TierName;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly atMs: number;
  readonly prefillMs: number;
}

/** {@link Outstanding}, as the tracker keeps it up to date. */
interface Totals {
  total: number;
  byTier: Record<TierName, number>;
  promptTokens: number;
  outputTokens: number;
  prefillMs: number;
  byTenant: Map<string, Record<TierName, number>>;
}

/** A pool with nothing outstanding. */
function noTotals(): Totals {
  return { total: 0, byTier: { realtime: 0, internal: 0, batch: 0 }, promptTokens: 0, outputTokens: 0, prefillMs: 0, byTenant: new Map() };
}

export interface LoadTracker {
  /**
   * A request went to `pool` (a first placement or a move); idempotent per request and pool.
   * `prefillMs` is the GPU time its prompt takes, added to the pool's prefill backlog. Requests
   * without a `tenant` count as one tenant's (default '').
   */
  dispatched(requestId: string, pool: string, tier: TierName, promptTokens: number, maxTokens: number, atMs: number, prefillMs?: number, tenant?: string): void;
  /**
   * Prefill work still ahead on `pool` at `nowMs`, GPU ms: what was dispatched, less what its
   * workers got through since at `drainPerMs` GPU ms per ms. Engines prefill first come, first
   * served, so a burst of long prompts delays every first token behind it. Never more than
   * the prefill of the requests still outstanding there: a pool that finished everything has
   * no backlog, even if its GPUs ran faster than `drainPerMs` says.
   */
  prefillBacklog(pool: string, nowMs: number, drainPerMs: number): number;
  /** The request reached its terminal outcome; returns the pool it was on, if known. */
  ended(requestId: string): string | undefined;
  /** Whether the request ended recently (the last `rememberEnded` endings). */
  hasEnded(requestId: string): boolean;
  of(pool: string): Outstanding;
  poolOf(requestId: string): string | undefined;
  /** Forgets requests dispatched before `nowMs - maxAgeMs` whose end was never seen. */
  prune(nowMs: number): number;
  readonly size: number;
}

/**
 * Local in-flight accounting: every dispatch this process sees (its own at decision time,
 * other replicas' from the bus) counts against its pool until the request's terminal event
 * arrives, so back-to-back decisions see each other instead of herding onto one pool
 * between two heartbeats.
 */
export function createLoadTracker(options: { readonly maxAgeMs?: number; readonly rememberEnded?: number } = {}): LoadTracker {
  const maxAgeMs = options.maxAgeMs ?? 15 * 60_000;
  const rememberEnded = options.rememberEnded ?? 50_000;
  const entries = new Map<string, Entry>();
  const totals = new Map<string, Totals>();
  const endedIds = new Set<string>();
  const backlog = new Map<string, { workMs: number; atMs: number; drainPerMs: number }>();
  const backlogAt = (pool: string, nowMs: number, drainPerMs?: number) => {
    const b = backlog.get(pool) ?? { workMs: 0, atMs: nowMs, drainPerMs: drainPerMs ?? 1 };
    b.workMs = Math.max(0, b.workMs - Math.max(0, nowMs - b.atMs) * b.drainPerMs);
    b.atMs = Math.max(b.atMs, nowMs);
    if (drainPerMs !== undefined) b.drainPerMs = drainPerMs;
    backlog.set(pool, b);
    return b;
  };

  const add = (e: Entry, sign: 1 | -1) => {
    const t = totals.get(e.pool) ?? noTotals();
    const mine = t.byTenant.get(e.tenant) ?? { realtime: 0, internal: 0, batch: 0 };
    mine[e.tier] += sign;
    if (mine.realtime + mine.internal + mine.batch <= 0) t.byTenant.delete(e.tenant);
    else t.byTenant.set(e.tenant, mine);
    t.total += sign;
    t.prefillMs += sign * e.prefillMs;
    t.byTier[e.tier] += sign;
    t.promptTokens += sign * e.promptTokens;
    t.outputTokens += sign * e.maxTokens;
    if (t.total <= 0) totals.delete(e.pool);
    else totals.set(e.pool, t);
  };
  const remove = (requestId: string): Entry | undefined => {
    const e = entries.get(requestId);
    if (!e) return undefined;
    entries.delete(requestId);
    add(e, -1);
    return e;
  };

  return {
    dispatched(requestId, pool, tier, promptTokens, maxTokens, atMs, prefillMs = 0, tenant = '') {
      if (endedIds.has(requestId)) return;
      const prior = entries.get(requestId);
      if (prior?.pool === pool) return;
      if (prior) remove(requestId);
      const e = { pool, tenant, tier, promptTokens, maxTokens, atMs, prefillMs };
      entries.set(requestId, e);
      add(e, 1);
      backlogAt(pool, atMs).workMs += prefillMs;
    },
    prefillBacklog: (pool, nowMs, drainPerMs) => Math.min(backlogAt(pool, nowMs, drainPerMs).workMs, Math.max(0, totals.get(pool)?.prefillMs ?? 0)),
    ended(requestId) {
      endedIds.add(requestId);
      if (endedIds.size > rememberEnded) endedIds.delete(endedIds.values().next().value!);
      return remove(requestId)?.pool;
    },
    hasEnded: (requestId) => endedIds.has(requestId),
    of: (pool) => totals.get(pool) ?? NOTHING_OUTSTANDING,
    poolOf: (requestId) => entries.get(requestId)?.pool,
    prune(nowMs) {
      let n = 0;
      for (const [id, e] of entries) {
        if (nowMs - e.atMs <= maxAgeMs) continue;
        remove(id);
        n++;
      }
      return n;
    },
    get size() {
      return entries.size;
    },
  };
}
