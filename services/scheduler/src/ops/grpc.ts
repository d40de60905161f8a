import type { Keyring, Principal } from '@switchyard/auth';
import {
  DomainError,
  OpsServiceService,
  type DrainPoolRequest,
  type DrainPoolResponse,
  type ListPoolsRequest,
  type ListPoolsResponse,
  type ListRoutesRequest,
  type ListRoutesResponse,
  type OpsServiceServer,
  type SetRouteWeightsRequest,
  type SetRouteWeightsResponse,
  type UndrainPoolRequest,
  type UndrainPoolResponse,
} from '@switchyard/contracts';
import { authorizationOf, createGrpcEdge, serve } from '@switchyard/grpc-edge';
import type { Logger } from '@switchyard/telemetry';
import type { OperatorActions } from './operator-actions.js';
import type { OpsView } from './view.js';

const operatorOnly = (principal: Principal) => {
  if (!principal.operator) throw new DomainError('PERMISSION_DENIED', 'the Ops API needs an operator key');
};

/**
 * The `OpsService` handlers: every call needs an operator key. Writes go through the audited
 * operator actions, which also record a refused attempt by a valid non-operator key.
 */
export function opsHandlers(view: () => OpsView, actions: OperatorActions, keyring: Keyring, logger: Logger): OpsServiceServer {
  const { unary: run } = createGrpcEdge({ logger, authenticate: (metadata) => keyring.authenticate(authorizationOf(metadata)) });
  return {
    listPools: run<ListPoolsRequest, ListPoolsResponse>(async (_r, { principal }) => (operatorOnly(principal), { pools: view().listPools() })),
    drainPool: run<DrainPoolRequest, DrainPoolResponse>(async (r, { principal }) => ({
      pool: await actions.drain(principal, r.pool, r.reason || 'drained by an operator'),
    })),
    undrainPool: run<UndrainPoolRequest, UndrainPoolResponse>(async (r, { principal }) => ({ pool: await actions.undrain(principal, r.pool) })),
    listRoutes: run<ListRoutesRequest, ListRoutesResponse>(async (_r, { principal }) => (operatorOnly(principal), { routes: await view().listRoutes() })),
    setRouteWeights: run<SetRouteWeightsRequest, SetRouteWeightsResponse>(async (r, { principal }) => ({
      route: await actions.setRouteWeights(principal, r.alias, r.versions, r.canaryVersion),
    })),
  };
}

export interface OpsServer {
  readonly address: string;
  stop(): Promise<void>;
}

/** Serves `OpsService` on `listen` (`host:port`, port 0 for a free one). */
export async function startOpsServer(listen: string, view: () => OpsView, actions: OperatorActions, keyring: Keyring, logger: Logger): Promise<OpsServer> {
  const served = await serve({ listen, services: [{ definition: OpsServiceService, handlers: opsHandlers(view, actions, keyring, logger) }] });
  return { address: served.address, stop: () => served.stop() };
}
