import type { NatsConnection } from '@nats-io/transport-node';

export interface ConnectionHealth {
  /** False from a disconnect until the client is connected again. */
  readonly connected: boolean;
  /** Stops following the connection's status. */
  stop(): void;
}

/**
 * Follows a connection's status so health checks tell the truth: a service whose bus is
 * down cannot admit, place or bill anything, even though its process and ports are fine.
 * `onChange` hears every flip, e.g. to set a gRPC health status.
 */
export function followConnectionHealth(nc: NatsConnection, onChange: (connected: boolean) => void = () => {}): ConnectionHealth {
  let connected = !nc.isClosed();
  let stopped = false;
  const set = (next: boolean) => {
    if (next === connected) return;
    connected = next;
    onChange(next);
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'disconnect' || s.type === 'close') set(false);
      else if (s.type === 'reconnect') set(true);
    }
  })();
  void nc.closed().then(() => stopped || set(false));
  return {
    get connected() {
      return connected;
    },
    stop: () => void (stopped = true),
  };
}
