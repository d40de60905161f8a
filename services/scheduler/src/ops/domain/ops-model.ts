import { poolCostModel, type PoolSpec } from '@switchyard/config';
import { DomainError, PoolHealth, type ModelRoute, type PoolStatus, type RouteVersion } from '@switchyard/contracts';
import type { Route } from '../../config.js';
import { poolVersion } from '../../placement/domain/placement.js';
import type { PoolState } from '../../placement/domain/pool-state.js';

/** One pool as the Ops API and the CLI show it. */
export function poolStatus(pool: PoolSpec, state: PoolState | undefined, drainReason: string | undefined, outstanding: number): PoolStatus {
  const cost = poolCostModel(pool);
  const healthy = state?.healthyWorkers ?? 0;
  const health =
    drainReason !== undefined
      ? PoolHealth.POOL_HEALTH_DRAINED
      : healthy === 0
        ? PoolHealth.POOL_HEALTH_DOWN
        : healthy < pool.workers
          ? PoolHealth.POOL_HEALTH_DEGRADED
          : PoolHealth.POOL_HEALTH_HEALTHY;
  return {
    id: pool.id,
    provider: pool.provider,
    region: pool.region,
    gpu: pool.gpu,
    model: pool.model,
    version: poolVersion(pool),
    capacityClass: pool.capacityClass,
    pricePerGpuHour: cost.kind === 'gpu-hour' ? cost.pricePerGpuHour : 0,
    costBasis: cost.kind,
    inputPerMillion: cost.kind === 'per-token' ? cost.inputPerMillion : 0,
    cachedInputPerMillion: cost.kind === 'per-token' ? cost.cachedInputPerMillion : 0,
    outputPerMillion: cost.kind === 'per-token' ? cost.outputPerMillion : 0,
    workers: pool.workers,
    healthyWorkers: healthy,
    running: state?.running ?? 0,
    waiting: state?.waiting ?? 0,
    freeSlots: state?.freeSlots ?? 0,
    kvUsed: state?.kvUsed ?? 0,
    stepMs: state?.stepMs ?? 0,
    outstanding,
    drained: drainReason !== undefined,
    drainReason: drainReason ?? '',
    health,
    lastHeartbeatUnixMs: state?.lastBeatUnixMs ?? 0,
    reservedFor: pool.reservedFor ?? [],
    tiers: [...pool.tiers],
  };
}

/** A stored route in the Ops API's shape. */
export function modelRoute(alias: string, route: Route, revision: number): ModelRoute {
  return {
    alias,
    versions: route.versions.map((v) => ({ version: v.version, weight: v.weight })),
    canary: route.canary && { version: route.canary.version, status: route.canary.status, reason: route.canary.reason, sinceUnixMs: route.canary.sinceUnixMs },
    autoSmall: route.auto?.small ?? '',
    autoLarge: route.auto?.large ?? '',
    revision,
  };
}

/**
 * A route with new weights. Every version must be served by a pool or be another route; a
 * canary version must be one of them and starts a fresh trial (judged from now on).
 */
export function withWeights(
  current: Route | undefined,
  versions: readonly RouteVersion[],
  canaryVersion: string,
  known: { readonly versions: ReadonlySet<string>; readonly aliases: ReadonlySet<string> },
  nowMs: number,
): Route {
  const invalid = (m: string) => new DomainError('INVALID_ARGUMENT', m);
  if (versions.length === 0) throw invalid('give at least one version with a weight');
  for (const v of versions) {
    if (!known.versions.has(v.version) && !known.aliases.has(v.version)) {
      throw invalid(`no pool serves version "${v.version}" and no route has that name; known versions: ${[...known.versions].join(', ')}`);
    }
    if (!(v.weight >= 0 && Number.isFinite(v.weight))) throw invalid(`weight of ${v.version} must be a number >= 0`);
  }
  if (new Set(versions.map((v) => v.version)).size !== versions.length) throw invalid('a version is listed twice');
  if (!versions.some((v) => v.weight > 0)) throw invalid('at least one version needs a weight above 0');
  if (canaryVersion && !versions.some((v) => v.version === canaryVersion)) throw invalid(`canary "${canaryVersion}" must be one of the versions`);
  const keepCanary = current?.canary && !canaryVersion && versions.some((v) => v.version === current.canary!.version) ? current.canary : undefined;
  return {
    ...(current?.auto ? { auto: current.auto } : {}),
    versions: versions.map((v) => ({ version: v.version, weight: v.weight })),
    ...(canaryVersion
      ? { canary: { version: canaryVersion, status: 'running' as const, reason: '', sinceUnixMs: nowMs } }
      : keepCanary
        ? { canary: keepCanary }
        : {}),
  };
}
