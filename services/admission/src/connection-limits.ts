import { DEFAULT_STALLED_STREAM_MS } from '@switchyard/grpc-edge';

/**
 * How long a connection or a stream may hold admission's memory without doing its part: the
 * bound on what idle connections, slowloris clients and callers that never read cost, each
 * set from the environment in `main.ts`.
 */
export interface ConnectionLimits {
  /** A gRPC connection with no call open is closed after this long (GOAWAY; clients reconnect on their next call). Default 2 min. */
  readonly grpcIdleMs: number;
  /** A server stream whose caller takes none of its waiting output for this long is reset, its work cancelled. Default 30 s. */
  readonly stalledStreamMs: number;
  /** An HTTP request's headers must have arrived whole this long after it began, or after its connection opened (a connection that sends nothing). Default 15 s. */
  readonly httpHeadersTimeoutMs: number;
  /** An HTTP request must have arrived whole (headers and body) within this. Default 60 s. */
  readonly httpRequestTimeoutMs: number;
  /**
   * An idle keep-alive HTTP connection is closed after this long. Default 65 s: longer than
   * the 60 s idle timeout of common load balancers, so they close first and never send on a
   * connection this server is closing.
   */
  readonly httpKeepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  grpcIdleMs: 120_000,
  stalledStreamMs: DEFAULT_STALLED_STREAM_MS,
  httpHeadersTimeoutMs: 15_000,
  httpRequestTimeoutMs: 60_000,
  httpKeepAliveTimeoutMs: 65_000,
};
