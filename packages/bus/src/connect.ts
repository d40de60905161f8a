import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface ConnectBusOptions {
  /** e.g. `nats://127.0.0.1:4222`; a comma-separated list names cluster members. */
  readonly url: string;
  /** Connection name shown by the server (`nats server report connections`). */
  readonly name: string;
  /**
   * The server does not hand this connection's own publishes back to its subscriptions.
   * Default false. For a service that follows subjects it also publishes on and already
   * knows what it sent (the scheduler and `dispatch.>`): one delivery per message less.
   */
  readonly noEcho?: boolean;
}

/**
 * Connects with unlimited reconnects: a service outlives a NATS restart instead of exiting.
 * `noAsyncTraces` drops a stack capture per request, which halves publish-with-ack cost.
 */
export async function connectBus(options: ConnectBusOptions): Promise<NatsConnection> {
  return connect({
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: true,
    noEcho: options.noEcho ?? false,
  });
}
