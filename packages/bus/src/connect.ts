import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface ConnectBusOptions {
  /**
   * e.g. `nats://127.0.0.1:4222`; a comma-separated list names cluster members. A user and
   * password in the URL (`nats://admission:secret@nats:4222`, percent-encoded) log in as that
   * user; the NATS client itself ignores them.
   */
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
  const { servers, user, pass } = parseNatsUrl(options.url);
  return connect({
    servers,
    ...(user === undefined ? {} : { user, pass }),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: true,
    noEcho: options.noEcho ?? false,
  });
}

/**
 * Splits a NATS_URL into server addresses without credentials and the one user and password
 * they carry; members of a list that name no user share the others'. Throws on two different
 * users in one list.
 */
export function parseNatsUrl(url: string): { servers: string[]; user?: string; pass?: string } {
  let credentials: { user: string; pass: string } | undefined;
  const servers = url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((server) => {
      const at = /^([a-z+]+:\/\/)?([^@/]*)@(.*)$/i.exec(server);
      if (!at) return server;
      const [, scheme = '', userinfo = '', rest = ''] = at;
      const colon = userinfo.indexOf(':');
      const found = {
        user: decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon)),
        pass: colon === -1 ? '' : decodeURIComponent(userinfo.slice(colon + 1)),
      };
      if (credentials && (credentials.user !== found.user || credentials.pass !== found.pass)) {
        throw new Error(`NATS_URL names different credentials for different servers (${credentials.user}, ${found.user}); use one user for all`);
      }
      credentials = found;
      return `${scheme}${rest}`;
    });
  return credentials ? { servers, ...credentials } : { servers };
}
