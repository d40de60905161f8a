import type { Keyring } from '@switchyard/auth';
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
import type { OpsView } from './view.js';

/** The `OpsService` handlers: every call needs an operator key. */
export function opsHandlers(view: () => OpsView, keyring: Keyring, logger: Logger): OpsServiceServer {
  const { unary: run } = createGrpcEdge({
    logger,
    authenticate: (metadata) => {
      const principal = keyring.authenticate(authorizationOf(metadata));
      if (!principal.operator) throw new DomainError('PERMISSION_DENIED', 'the Ops API needs an operator key');
      return principal;
    },
  });
  return {
    listPools: run<ListPoolsRequest, ListPoolsResponse>(async () => ({ pools: view().listPools() })),
    drainPool: run<DrainPoolRequest, DrainPoolResponse>(async (r) => ({ pool: await view().drain(r.pool, r.reason || 'drained by an operator') })),
    undrainPool: run<UndrainPoolRequest, UndrainPoolResponse>(async (r) => ({ pool: await view().undrain(r.pool) })),
    listRoutes: run<ListRoutesRequest, ListRoutesResponse>(async () => ({ routes: await view().listRoutes() })),
    setRouteWeights: run<SetRouteWeightsRequest, SetRouteWeightsResponse>(async (r) => ({
      route: await view().setRouteWeights(r.alias, r.versions, r.canaryVersion),
    })),
  };
}

export interface OpsServer {
  readonly address: string;
  stop(): Promise<void>;
}

/** Serves `OpsService` on `listen` (`host:port`, port 0 for a free one). */
export async function startOpsServer(listen: string, view: () => OpsView, keyring: Keyring, logger: Logger): Promise<OpsServer> {
  const served = await serve({ listen, services: [{ definition: OpsServiceService, handlers: opsHandlers(view, keyring, logger) }] });
  return { address: served.address, stop: () => served.stop() };
}
