import type { KV } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { DomainError, type ModelRoute, type PoolStatus, type RouteVersion } from '@switchyard/contracts';
import { modelRoute, poolStatus, withWeights } from './domain/ops-model.js';
import { poolVersion } from '../placement/domain/placement.js';
import type { PoolState } from '../placement/domain/pool-state.js';
import { readRoutes, setDrained, updateRoute, type RouteStore } from './routes-store.js';

/** What an operator can see and change (the Ops gRPC API and the CLI go through this). */
export interface OpsView {
  listPools(): PoolStatus[];
  drain(pool: string, reason: string): Promise<PoolStatus>;
  undrain(pool: string): Promise<PoolStatus>;
  listRoutes(): Promise<ModelRoute[]>;
  setRouteWeights(alias: string, versions: readonly RouteVersion[], canaryVersion: string): Promise<ModelRoute>;
}

export interface OpsViewDeps {
  readonly pools: readonly PoolSpec[];
  readonly routesKv: KV;
  readonly routeStore: RouteStore;
  readonly states: () => ReadonlyMap<string, PoolState>;
  readonly outstanding: (pool: string) => number;
  readonly now: () => number;
}

/** Waits (briefly) until this replica's live view shows a change it just wrote. */
async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

export function createOpsView(deps: OpsViewDeps): OpsView {
  const byId = new Map(deps.pools.map((p) => [p.id, p]));
  const pool = (id: string) => {
    const p = byId.get(id);
    if (!p) throw new DomainError('NOT_FOUND', `no pool "${id}"; pools: ${deps.pools.map((x) => x.id).join(', ')}`);
    return p;
  };
  const status = (p: PoolSpec) => poolStatus(p, deps.states().get(p.id), deps.routeStore.drained().get(p.id), deps.outstanding(p.id));
  return {
    listPools: () => deps.pools.map(status),
    async drain(id, reason) {
      const p = pool(id);
      await setDrained(deps.routesKv, id, true, reason, deps.now());
      await until(() => deps.routeStore.drained().has(id));
      return status(p);
    },
    async undrain(id) {
      const p = pool(id);
      await setDrained(deps.routesKv, id, false, '', deps.now());
      await until(() => !deps.routeStore.drained().has(id));
      return status(p);
    },
    async listRoutes() {
      return [...(await readRoutes(deps.routesKv))].map(([alias, { route, revision }]) => modelRoute(alias, route, revision));
    },
    async setRouteWeights(alias, versions, canaryVersion) {
      const known = { versions: new Set(deps.pools.map(poolVersion)), aliases: new Set(deps.routeStore.routes().keys()) };
      const { route, revision } = await updateRoute(deps.routesKv, alias, (current) => withWeights(current, versions, canaryVersion, known, deps.now()));
      await until(() => JSON.stringify(deps.routeStore.routes().get(alias)) === JSON.stringify(route));
      return modelRoute(alias, route, revision);
    },
  };
}
