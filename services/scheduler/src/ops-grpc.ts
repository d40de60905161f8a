import { Server, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { Keyring } from '@switchyard/auth';
import {
  addGuardedService,
  authorizationOf,
  bindServer,
  DomainError,
  OpsServiceService,
  toGrpcError,
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
import type { Logger } from '@switchyard/telemetry';
import type { OpsView } from './ops/view.js';

/** The `OpsService` handlers: every call needs an operator key. */
export function opsHandlers(view: () => OpsView, keyring: Keyring, logger: Logger): OpsServiceServer {
  const run =
    <Req, Res>(handler: (request: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      void (async () => {
        const principal = keyring.authenticate(authorizationOf(call.metadata));
        if (!principal.operator) throw new DomainError('PERMISSION_DENIED', 'the Ops API needs an operator key');
        callback(null, await handler(call.request));
      })().catch((e: unknown) => {
        if (!(e instanceof DomainError)) logger.error({ err: e }, 'ops call failed');
        callback(toGrpcError(e));
      });
    };
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
  const server = new Server();
  addGuardedService(server, OpsServiceService, opsHandlers(view, keyring, logger));
  const address = await bindServer(server, listen);
  return {
    address,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
