import { Server, type ChannelOptions, type ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { guardDecoding, rejectUndecodable } from './decoding.js';
import { grpcServerCredentials, type TlsFiles } from './tls.js';

/** A generated service definition and its handlers. */
export interface ServedService {
  readonly definition: ServiceDefinition;
  readonly handlers: object;
}

export interface ServeOptions {
  /** `host:port`; port 0 picks a free one. */
  readonly listen: string;
  readonly services: readonly ServedService[];
  /** grpc-js server options (message size limits, keepalive). Default: grpc-js defaults. */
  readonly serverOptions?: ChannelOptions;
  /** Health status reported once bound. Default true (SERVING); a service that waits on a dependency starts false. */
  readonly serving?: boolean;
  /** How long `stop()` lets open calls finish before it cuts them. Default 10 s. */
  readonly graceMs?: number;
  /** Serve TLS with this certificate and key (reloaded when they change). Default plaintext. */
  readonly tls?: TlsFiles;
}

export interface Served {
  /** The bound `host:port`. */
  readonly address: string;
  /** Reports SERVING or NOT_SERVING on `grpc.health.v1`, for the server and each service. */
  setServing(serving: boolean): void;
  /** NOT_SERVING, then no new calls; open calls get `graceMs` (default: the serve option) to finish. */
  stop(graceMs?: number): Promise<void>;
}

/** `/switchyard.v1.Billing/GetBalance` -> `switchyard.v1.Billing`. */
const serviceNameOf = (definition: ServiceDefinition): string => Object.values(definition)[0]?.path.split('/')[1] ?? '';

/** Binds a server to `host:port` and resolves with the bound `host:port` (the real port when 0 was asked). */
async function bind(server: Server, listen: string, credentials: ServerCredentials): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(listen, credentials, (e, p) => (e ? reject(e) : resolve(p))));
  return `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
}

/**
 * Serves gRPC services the one way every Switchyard service does: each with decoding guarded
 * (a request that is not a valid message is INVALID_ARGUMENT, never INTERNAL), the standard
 * `grpc.health.v1` service beside them for load balancers and `grpc_health_probe`, and a
 * shutdown that drains open calls within a bound.
 */
export async function serve(options: ServeOptions): Promise<Served> {
  const server = new Server(options.serverOptions);
  const names = options.services.map((s) => serviceNameOf(s.definition));
  const health = new HealthImplementation(Object.fromEntries(['', ...names].map((name) => [name, 'NOT_SERVING'])));
  health.addToServer(server);
  for (const { definition, handlers } of options.services) {
    const guarded = guardDecoding(definition);
    server.addService(guarded, rejectUndecodable(guarded, handlers) as UntypedServiceImplementation);
  }
  let stopped = false;
  const setServing = (serving: boolean) => {
    const status = serving && !stopped ? 'SERVING' : 'NOT_SERVING';
    for (const name of ['', ...names]) health.setStatus(name, status);
  };
  const address = await bind(server, options.listen, grpcServerCredentials(options.tls));
  setServing(options.serving ?? true);
  return {
    address,
    setServing,
    stop: (graceMs = options.graceMs ?? 10_000) => {
      setServing(false);
      stopped = true;
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => (server.forceShutdown(), resolve()), graceMs);
        server.tryShutdown(() => (clearTimeout(force), resolve()));
      });
    },
  };
}
