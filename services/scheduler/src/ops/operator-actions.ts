import type { Principal } from '@switchyard/auth';
import type { AuditPublisher } from '@switchyard/bus';
import { DomainError, type AuditAction, type ModelRoute, type PoolStatus, type RouteVersion } from '@switchyard/contracts';
import type { OpsView } from './view.js';

/**
 * The operator's writes to the fleet, each audited: the Ops gRPC API and the console both go
 * through here, so a drain is recorded the same way wherever it was clicked. A key that is
 * valid but not an operator's is refused with PERMISSION_DENIED, and the attempt is recorded
 * too (outcome denied).
 */
export interface OperatorActions {
  drain(principal: Principal, pool: string, reason: string): Promise<PoolStatus>;
  undrain(principal: Principal, pool: string): Promise<PoolStatus>;
  setRouteWeights(principal: Principal, alias: string, versions: readonly RouteVersion[], canaryVersion: string): Promise<ModelRoute>;
}

const drainState = (s: PoolStatus | undefined) => s && { drained: s.drained, drainReason: s.drainReason };
const routeState = (r: ModelRoute | undefined) => r && { versions: r.versions, canary: r.canary };

export function createOperatorActions(view: () => OpsView, audit: AuditPublisher): OperatorActions {
  const actorOf = (p: Principal) => ({ keyId: p.keyId, tenant: p.tenant });
  /** Refuses (and records) a non-operator's attempt. */
  const allow = async (p: Principal, action: AuditAction, target: string, what: string) => {
    if (p.operator) return;
    const reason = `${what} needs an operator key; key ${p.keyId} of tenant ${p.tenant} is not one`;
    await audit.record({ actor: actorOf(p), action, target, outcome: 'denied', reason });
    throw new DomainError('PERMISSION_DENIED', reason);
  };
  const poolNow = (id: string) =>
    view()
      .listPools()
      .find((s) => s.id === id);
  return {
    async drain(p, pool, reason) {
      await allow(p, 'drain', pool, 'draining a pool');
      const before = drainState(poolNow(pool));
      const after = await view().drain(pool, reason);
      await audit.record({ actor: actorOf(p), action: 'drain', target: pool, before, after: drainState(after), outcome: 'allowed', reason });
      return after;
    },
    async undrain(p, pool) {
      await allow(p, 'undrain', pool, 'undraining a pool');
      const before = drainState(poolNow(pool));
      const after = await view().undrain(pool);
      await audit.record({ actor: actorOf(p), action: 'undrain', target: pool, before, after: drainState(after), outcome: 'allowed' });
      return after;
    },
    async setRouteWeights(p, alias, versions, canaryVersion) {
      await allow(p, 'route-weights', alias, 'changing a route');
      const before = routeState((await view().listRoutes()).find((r) => r.alias === alias));
      const after = await view().setRouteWeights(alias, versions, canaryVersion);
      await audit.record({ actor: actorOf(p), action: 'route-weights', target: alias, before, after: routeState(after), outcome: 'allowed' });
      return after;
    },
  };
}
