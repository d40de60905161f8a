import { PoolHealth, type Event, type PoolStatus } from '@switchyard/contracts';
import type { PoolRow, TenantRow, TierRow, TopSnapshot } from '@switchyard/live-model';

/** One decision as the console lists it: admission refusals, policy blocks, placements, failovers, canary rollbacks. */
export interface DecisionRow {
  readonly atMs: number;
  /** admission, policy, scheduler, or routes (a canary change). */
  readonly service: string;
  readonly action: string;
  /** Empty for a route's decision, which is no tenant's. */
  readonly tenant: string;
  readonly requestId: string;
  readonly chosen: string;
  readonly reason: string;
}

/** Who is looking: an operator key sees every tenant, any other key only its own tenant's spend and decisions. */
export interface ConsoleViewer {
  readonly keyId: string;
  readonly tenant: string;
  readonly operator: boolean;
}

/** A pool as `switchyard top` shows it, with its health and drain switch. */
export interface ConsolePool extends PoolRow {
  readonly health: string;
  readonly drained: boolean;
  readonly drainReason: string;
}

/** What the console page draws, once a second. */
export interface ConsoleSnapshot {
  readonly atMs: number;
  readonly windowMs: number;
  readonly heardMs: number;
  readonly viewer: ConsoleViewer;
  readonly totals: { readonly requestsPerS: number; readonly tokensPerS: number };
  readonly tiers: readonly TierRow[];
  readonly pools: readonly ConsolePool[];
  readonly tenants: readonly TenantRow[];
  readonly decisions: readonly DecisionRow[];
}

const HEALTH: Record<number, string> = {
  [PoolHealth.POOL_HEALTH_HEALTHY]: 'healthy',
  [PoolHealth.POOL_HEALTH_DEGRADED]: 'degraded',
  [PoolHealth.POOL_HEALTH_DOWN]: 'down',
  [PoolHealth.POOL_HEALTH_DRAINED]: 'drained',
};

/**
 * The row of a decision event published on `decisions.<service>.<tenant>` or
 * `decisions.routes.<alias>`; undefined for anything else, and for policy's `allow`: every
 * request gets one, and they would push the refusals, blocks and placements off the list.
 */
export function decisionRow(subject: string, event: Event): DecisionRow | undefined {
  if (event.payload?.$case !== 'decision') return undefined;
  const d = event.payload.decision;
  const [, service = d.service, scope = ''] = subject.split('.');
  if (service === 'policy' && d.action === 'allow') return undefined;
  return {
    atMs: event.envelope?.timeUnixMs ?? 0,
    service,
    action: d.action,
    tenant: service === 'routes' ? '' : scope,
    requestId: event.envelope?.requestId ?? '',
    chosen: d.chosen,
    reason: d.reason,
  };
}

/** The latest decisions, newest first, at most `max` (default 25) kept. */
export function createDecisionLog(max = 25) {
  const rows: DecisionRow[] = [];
  return {
    add(row: DecisionRow): void {
      rows.unshift(row);
      if (rows.length > max) rows.length = max;
    },
    latest: (): readonly DecisionRow[] => rows,
  };
}

/**
 * The snapshot one viewer may see: the fleet (tiers, pools) for everyone; spend and decisions
 * of every tenant for an operator, of its own tenant for any other key.
 */
export function consoleSnapshot(top: TopSnapshot, pools: readonly PoolStatus[], decisions: readonly DecisionRow[], viewer: ConsoleViewer): ConsoleSnapshot {
  const rows = new Map(top.pools.map((p) => [p.pool, p]));
  const mine = <T extends { tenant: string }>(list: readonly T[]) => (viewer.operator ? list : list.filter((x) => x.tenant === viewer.tenant));
  return {
    atMs: top.atMs,
    windowMs: top.windowMs,
    heardMs: top.heardMs,
    viewer,
    totals: {
      requestsPerS: top.tiers.reduce((n, t) => n + t.completedPerS, 0),
      tokensPerS: top.tiers.reduce((n, t) => n + t.tokensPerS, 0),
    },
    tiers: top.tiers,
    pools: pools.map((s) => {
      const row = rows.get(s.id);
      return {
        pool: s.id,
        health: HEALTH[s.health] ?? 'unknown',
        drained: s.drained,
        drainReason: s.drainReason,
        healthyWorkers: s.healthyWorkers,
        workers: s.workers,
        running: s.running,
        waiting: s.waiting,
        freeSlots: s.freeSlots,
        kvUsed: s.kvUsed,
        utilisation: row?.utilisation ?? 0,
        servedPerS: row?.servedPerS ?? 0,
      };
    }),
    tenants: mine(top.tenants).slice(0, 20),
    decisions: mine(decisions),
  };
}
