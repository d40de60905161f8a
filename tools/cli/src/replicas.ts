/**
 * Replicas under `switchyard up --scale name=N`: which processes a scale asks for, what each is
 * called, and where each listens. Pure: no processes, no ports opened.
 */

/** How many processes run each service; a service left out runs one. */
export type Scale = Readonly<Record<string, number>>;

/**
 * Services `switchyard up` will not scale, and why. Policy is asked by admission at its one
 * `POLICY_ADDR`: a second local policy process would serve no call. (In compose or Kubernetes it
 * scales behind a Service name or a proxy.)
 */
export const UNSCALABLE: Readonly<Record<string, string>> = {
  policy: 'admission asks the one policy at POLICY_ADDR, so a second policy process would get no calls (behind a load balancer, as in Kubernetes, it scales)',
};

/** Replica `i` (from 1) listens on its service's ports plus `(i - 1) * REPLICA_PORT_STEP`. */
export const REPLICA_PORT_STEP = 100;

/** The settings that name a port a service listens on (`host:port`, or a bare port for metrics). */
const LISTEN_SETTINGS = [
  'ADMISSION_LISTEN',
  'HTTP_LISTEN',
  'POLICY_LISTEN',
  'BILLING_LISTEN',
  'BATCH_LISTEN',
  'BATCH_HTTP_LISTEN',
  'OPS_LISTEN',
  'CONSOLE_LISTEN',
] as const;

export class ScaleError extends Error {}

/**
 * Reads `--scale` values (`worker-simulator=3`, repeatable) against the services that run.
 * Throws a {@link ScaleError} that says what was wrong and what would be right.
 */
export function parseScale(values: readonly string[], running: readonly string[]): Scale {
  const scale: Record<string, number> = {};
  for (const value of values) {
    const match = /^([^=]+)=(.*)$/.exec(value.trim());
    if (!match) throw new ScaleError(`--scale ${value}: expected name=N, e.g. --scale worker-simulator=3`);
    const [, name, count] = match as unknown as [string, string, string];
    if (!running.includes(name)) throw new ScaleError(`--scale ${value}: no service "${name}"; the services are ${running.join(', ')}`);
    const n = Number(count);
    if (count.trim() === '' || !Number.isInteger(n) || n < 1) throw new ScaleError(`--scale ${value}: N must be a whole number of at least 1`);
    const why = UNSCALABLE[name];
    if (why !== undefined && n > 1) throw new ScaleError(`--scale ${value}: ${name} runs once: ${why}`);
    scale[name] = n;
  }
  return scale;
}

/** One process of a service. */
export interface Replica {
  readonly service: string;
  /** 1, 2, ...; 1 for an unscaled service. */
  readonly index: number;
  /** The service's name when it runs once, else `<service>-<index>`: log file, prefix, messages. */
  readonly label: string;
}

/** Every process of `services` (in their order, replicas of one service together). */
export function replicasOf(services: readonly string[], scale: Scale): Replica[] {
  return services.flatMap((service) => {
    const n = scale[service] ?? 1;
    return Array.from({ length: n }, (_, i) => ({ service, index: i + 1, label: n === 1 ? service : `${service}-${i + 1}` }));
  });
}

/** `host:port` with the port moved by `by`; anything else (`off`) as it is. */
function shift(listen: string, by: number): string {
  const at = listen.lastIndexOf(':');
  const port = Number(listen.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port === 0) return listen;
  return `${listen.slice(0, at)}:${port + by}`;
}

/**
 * The settings of replica `index` over the service's `env`: every listen address (and a fixed
 * `METRICS_PORT`; 0, a free port, stays 0) moved by `(index - 1) * REPLICA_PORT_STEP`, so
 * replicas on one host never fight over a port. Replica 1 keeps `env` as it is.
 */
export function replicaEnv(env: NodeJS.ProcessEnv, index: number): NodeJS.ProcessEnv {
  const by = (index - 1) * REPLICA_PORT_STEP;
  if (by === 0) return env;
  const moved: NodeJS.ProcessEnv = { ...env };
  for (const key of LISTEN_SETTINGS) {
    const value = env[key];
    if (value !== undefined) moved[key] = shift(value, by);
  }
  const metrics = Number(env.METRICS_PORT ?? 0);
  if (Number.isInteger(metrics) && metrics > 0) moved.METRICS_PORT = String(metrics + by);
  return moved;
}
