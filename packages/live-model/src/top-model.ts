import { tierLabel, type RequestSpec, type RequestTerminated, type UsageRecorded } from '@switchyard/contracts';
import { percentile } from './percentile.js';
import { billsTokens, charge, outcomeOf, type BookAt } from './usage-charge.js';

export interface TopModelOptions {
  /** The sliding window rates, percentiles and spend are taken over. Default 60,000 ms. */
  readonly windowMs?: number;
  /** Latency samples kept per tier at most, newest kept; bounds memory under any load. Default 5,000. */
  readonly maxSamplesPerTier?: number;
  /** Tenants listed, by spend. Default 10. */
  readonly topTenants?: number;
  /**
   * When listening began, Unix ms: until a whole window has been heard, rates are over the
   * part heard, not diluted by time nobody listened. Default: the whole window counts.
   */
  readonly listeningSinceMs?: number;
  /** The price book in force at a time; usage the book does not price costs nothing here. */
  readonly bookAt: BookAt;
  /**
   * Each tier's TTFT objective, ms, by tier name: a tier listed gets `ttftAttainment`, the
   * share of its requests whose first token came within it. Default none.
   */
  readonly ttftObjectivesMs?: Readonly<Record<string, number>>;
}

/** What the model reads of a pool's folded heartbeats (the scheduler's `PoolState` has it all). */
export interface LivePoolState {
  readonly healthyWorkers: number;
  readonly running: number;
  readonly waiting: number;
  readonly freeSlots: number;
  readonly kvUsed: number;
}

/** One pool as the pools file declares it and its heartbeats show it now. */
export interface TopPoolInput {
  readonly id: string;
  readonly workers: number;
  readonly slotsPerWorker: number;
  /** Folded heartbeats (`poolStates`); undefined when no worker beats. */
  readonly state: LivePoolState | undefined;
}

export interface TierRow {
  readonly tier: string;
  readonly admittedPerS: number;
  readonly completedPerS: number;
  readonly rejectedPerS: number;
  readonly failedPerS: number;
  /** Terminal counts over the window, by outcome name. */
  readonly counts: Readonly<Record<string, number>>;
  readonly ttftMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** Share (0..1) of the window's requests with TTFT within the tier's objective; NaN without an objective or requests. */
  readonly ttftAttainment: number;
  readonly e2eMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly tokensPerS: number;
}

export interface PoolRow {
  readonly pool: string;
  readonly healthyWorkers: number;
  readonly workers: number;
  readonly running: number;
  readonly waiting: number;
  readonly freeSlots: number;
  readonly kvUsed: number;
  /** running / (workers × slots per worker), 0..1. */
  readonly utilisation: number;
  /** Usage recorded on this pool per second over the window. */
  readonly servedPerS: number;
}

export interface TenantRow {
  readonly tenant: string;
  /** Billable spend over the window, micro-dollars. */
  readonly spendMicros: number;
  /** That spend as an hourly rate, micro-dollars per hour. */
  readonly spendPerHourMicros: number;
  readonly requests: number;
}

export interface TopSnapshot {
  readonly atMs: number;
  readonly windowMs: number;
  /** The part of the window listened to, ms: what rates are over. */
  readonly heardMs: number;
  readonly tiers: readonly TierRow[];
  readonly pools: readonly PoolRow[];
  readonly tenants: readonly TenantRow[];
}

export interface TopModel {
  onUsage(u: UsageRecorded, atMs: number): void;
  onTerminal(t: RequestTerminated, atMs: number): void;
  onAdmitted(spec: RequestSpec, atMs: number): void;
  snapshot(nowMs: number, pools: readonly TopPoolInput[]): TopSnapshot;
}

interface UsageSample {
  readonly atMs: number;
  readonly ttftMs: number;
  readonly totalMs: number;
  readonly tokens: number;
  readonly pool: string;
  readonly tenant: string;
  readonly costMicros: number;
}

interface TierSamples {
  admitted: Array<{ atMs: number }>;
  terminals: Array<{ atMs: number; outcome: string }>;
  usage: UsageSample[];
}

const TIER_ORDER = ['realtime', 'internal', 'batch'];

/** Drops entries older than `since` from the front; entries arrive in time order. */
function expire(list: Array<{ readonly atMs: number }>, since: number): void {
  let i = 0;
  while (i < list.length && list[i]!.atMs < since) i++;
  if (i > 0) list.splice(0, i);
}

function capped<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}

const quantiles = (values: number[]) => {
  const s = values.sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
};

const attainment = (usage: readonly UsageSample[], objectiveMs: number | undefined) =>
  objectiveMs === undefined || usage.length === 0 ? Number.NaN : usage.filter((u) => u.ttftMs <= objectiveMs).length / usage.length;

/**
 * What `switchyard top` shows, folded from events as they are seen: per tier rates and
 * latency percentiles, per pool load, per tenant spend, all over a sliding window. Pure: the
 * caller says when each event was seen and when the snapshot is taken.
 */
export function createTopModel(options: TopModelOptions): TopModel {
  const windowMs = options.windowMs ?? 60_000;
  const maxSamples = options.maxSamplesPerTier ?? 5_000;
  const topTenants = options.topTenants ?? 10;
  const tiers = new Map<string, TierSamples>();
  const tier = (name: string) => {
    let t = tiers.get(name);
    if (!t) tiers.set(name, (t = { admitted: [], terminals: [], usage: [] }));
    return t;
  };

  return {
    onUsage(u, atMs) {
      const billable = billsTokens(outcomeOf(u.outcome));
      const [cost] = charge(u, atMs, billable, options.bookAt);
      const t = u.usage;
      const samples = tier(tierLabel(u.tier)).usage;
      samples.push({
        atMs,
        ttftMs: u.ttftMs,
        totalMs: u.totalMs,
        tokens: (t?.inputTokens ?? 0) + (t?.outputTokens ?? 0),
        pool: u.pool,
        tenant: u.tenant,
        // A model the book does not price shows no spend rather than a guess.
        costMicros: cost ?? 0,
      });
      capped(samples, maxSamples);
    },
    onTerminal(t, atMs) {
      const list = tier(tierLabel(t.tier)).terminals;
      list.push({ atMs, outcome: outcomeOf(t.outcome) });
      capped(list, maxSamples);
    },
    onAdmitted(spec, atMs) {
      const list = tier(tierLabel(spec.tier)).admitted;
      list.push({ atMs });
      capped(list, maxSamples);
    },
    snapshot(nowMs, pools) {
      const since = nowMs - windowMs;
      const heardMs = options.listeningSinceMs === undefined ? windowMs : Math.min(windowMs, nowMs - options.listeningSinceMs);
      // At least a second: a snapshot taken at once must not divide by zero.
      const seconds = Math.max(heardMs, 1_000) / 1000;
      const servedByPool = new Map<string, number>();
      const byTenant = new Map<string, { spend: number; requests: number }>();
      const tierRows: TierRow[] = [];
      const names = [...tiers.keys()].sort((a, b) => (TIER_ORDER.indexOf(a) + 1 || 9) - (TIER_ORDER.indexOf(b) + 1 || 9) || a.localeCompare(b));
      for (const name of names) {
        const t = tiers.get(name)!;
        expire(t.admitted, since);
        expire(t.terminals, since);
        expire(t.usage, since);
        const counts: Record<string, number> = {};
        for (const x of t.terminals) counts[x.outcome] = (counts[x.outcome] ?? 0) + 1;
        let tokens = 0;
        for (const u of t.usage) {
          tokens += u.tokens;
          servedByPool.set(u.pool, (servedByPool.get(u.pool) ?? 0) + 1);
          const s = byTenant.get(u.tenant) ?? { spend: 0, requests: 0 };
          s.spend += u.costMicros;
          s.requests++;
          byTenant.set(u.tenant, s);
        }
        tierRows.push({
          tier: name,
          admittedPerS: t.admitted.length / seconds,
          completedPerS: (counts.completed ?? 0) / seconds,
          rejectedPerS: (counts.rejected ?? 0) / seconds,
          failedPerS: (counts.failed ?? 0) / seconds,
          counts,
          ttftMs: quantiles(t.usage.map((u) => u.ttftMs)),
          ttftAttainment: attainment(t.usage, options.ttftObjectivesMs?.[name]),
          e2eMs: quantiles(t.usage.map((u) => u.totalMs)),
          tokensPerS: tokens / seconds,
        });
      }
      const poolRows = pools.map((p): PoolRow => {
        const running = p.state?.running ?? 0;
        const capacity = p.workers * p.slotsPerWorker;
        return {
          pool: p.id,
          healthyWorkers: p.state?.healthyWorkers ?? 0,
          workers: p.workers,
          running,
          waiting: p.state?.waiting ?? 0,
          freeSlots: p.state?.freeSlots ?? 0,
          kvUsed: p.state?.kvUsed ?? 0,
          utilisation: capacity > 0 ? running / capacity : 0,
          servedPerS: (servedByPool.get(p.id) ?? 0) / seconds,
        };
      });
      const tenantRows = [...byTenant]
        .map(([tenant, s]) => ({ tenant, spendMicros: s.spend, spendPerHourMicros: (s.spend * 3_600) / seconds, requests: s.requests }))
        .sort((a, b) => b.spendMicros - a.spendMicros || a.tenant.localeCompare(b.tenant))
        .slice(0, topTenants);
      return { atMs: nowMs, windowMs, heardMs: seconds * 1000, tiers: tierRows, pools: poolRows, tenants: tenantRows };
    },
  };
}
