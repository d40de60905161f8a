import type { KV, KvEntry } from '@switchyard/bus';
import { DomainError, routesKeys } from '@switchyard/contracts';
import { routeSchema, type Route } from '../config.js';

/**
 * The `routes` KV bucket holds the scheduler's live routing configuration, which every
 * replica watches: `routesKeys.route(alias)` (JSON {@link Route}) and `routesKeys.drain(pool)`
 * (JSON `{reason, atUnixMs}`; present means an operator drained the pool).
 */
const ALIAS = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RouteStore {
  routes(): ReadonlyMap<string, Route>;
  /** Drained pools and why. */
  drained(): ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

export interface RouteProblem {
  readonly key: string;
  readonly error: string;
}

/** Parses a stored route; throws `INVALID_ARGUMENT` naming the problem. */
export function parseRoute(data: Uint8Array): Route {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (cause) {
    throw new DomainError('INVALID_ARGUMENT', 'route is not valid JSON', { cause });
  }
  const parsed = routeSchema.safeParse(json);
  if (!parsed.success)
    throw new DomainError('INVALID_ARGUMENT', `route is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * Writes missing seed routes, loads the bucket, then follows it live. A stored route that
 * does not parse is reported and the last good one kept.
 */
export async function openRouteStore(kv: KV, seeds: Readonly<Record<string, Route>>, onProblem: (p: RouteProblem) => void = () => {}): Promise<RouteStore> {
  for (const [alias, route] of Object.entries(seeds)) {
    await kv.create(routesKeys.route(alias), encoder.encode(JSON.stringify(route))).catch(() => undefined);
  }
  const routes = new Map<string, Route>();
  const drained = new Map<string, string>();
  const apply = (key: string, value: Uint8Array | undefined) => {
    const alias = routesKeys.aliasOf(key);
    const pool = routesKeys.drainedPoolOf(key);
    if (alias !== undefined) {
      if (!value || value.length === 0) return void routes.delete(alias);
      try {
        routes.set(alias, parseRoute(value));
      } catch (e) {
        onProblem({ key, error: (e as Error).message });
      }
    } else if (pool !== undefined) {
      if (!value || value.length === 0) return void drained.delete(pool);
      drained.set(pool, drainReason(value));
    }
  };
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    apply(key, entry && entry.operation === 'PUT' ? entry.value : undefined);
  }
  const watch = await kv.watch({ key: '>' });
  const done = (async () => {
    for await (const e of watch) apply(e.key, e.operation === 'PUT' ? e.value : undefined);
  })();
  return {
    routes: () => routes,
    drained: () => drained,
    async stop() {
      watch.stop();
      await done;
    },
  };
}

/**
 * Changes a route with compare-and-set, so two writers (replicas, operators) never lose each
 * other's update; `change` sees the current route (undefined if none) and returns the new one.
 */
export async function updateRoute(kv: KV, alias: string, change: (current: Route | undefined) => Route): Promise<{ route: Route; revision: number }> {
  if (!ALIAS.test(alias)) throw new DomainError('INVALID_ARGUMENT', `route alias "${alias}": use lower-case letters, digits, "." and "-"`);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry: KvEntry | null = await kv.get(routesKeys.route(alias));
    const current = entry && entry.operation === 'PUT' && entry.value.length > 0 ? parseRoute(entry.value) : undefined;
    const next = routeSchema.parse(change(current));
    const data = encoder.encode(JSON.stringify(next));
    try {
      const revision = current && entry ? await kv.update(routesKeys.route(alias), data, entry.revision) : await kv.create(routesKeys.route(alias), data);
      return { route: next, revision };
    } catch (e) {
      if (attempt === 9) throw new DomainError('UNAVAILABLE', `route "${alias}" kept changing under this update`, { cause: e });
    }
  }
  throw new DomainError('INTERNAL', 'unreachable');
}

/**
 * Announces the model versions this scheduler's pools serve under `routesKeys.model`, so
 * admission can refuse a name nobody serves before it spends anything. Each key is created
 * once and never rewritten: its `firstServedUnixMs` is when Switchyard first served the
 * version (what `/v1/models` reports as `created`).
 */
export async function announceServedModels(kv: KV, versions: Iterable<string>, nowMs: number): Promise<void> {
  for (const version of new Set(versions)) {
    // create fails when the key exists: the version was served before, and its first time stays.
    await kv.create(routesKeys.model(version), encoder.encode(JSON.stringify({ firstServedUnixMs: nowMs }))).catch(() => undefined);
  }
}

/** Drains (no new placements) or undrains a pool. */
export async function setDrained(kv: KV, pool: string, drained: boolean, reason: string, nowMs: number): Promise<void> {
  if (drained) await kv.put(routesKeys.drain(pool), encoder.encode(JSON.stringify({ reason, atUnixMs: nowMs })));
  else await kv.delete(routesKeys.drain(pool));
}

/** Every stored route, read once (CLI, Ops API). */
export async function readRoutes(kv: KV): Promise<Map<string, { route: Route; revision: number }>> {
  const out = new Map<string, { route: Route; revision: number }>();
  for await (const key of await kv.keys(routesKeys.allRoutes)) {
    const entry = await kv.get(key);
    const alias = routesKeys.aliasOf(key);
    if (alias !== undefined && entry && entry.operation === 'PUT' && entry.value.length > 0)
      out.set(alias, { route: parseRoute(entry.value), revision: entry.revision });
  }
  return out;
}

/** Every drained pool and why, read once (CLI). */
export async function readDrains(kv: KV): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const key of await kv.keys(routesKeys.allDrains)) {
    const entry = await kv.get(key);
    const pool = routesKeys.drainedPoolOf(key);
    if (pool !== undefined && entry?.operation === 'PUT') out.set(pool, drainReason(entry.value));
  }
  return out;
}

/** The reason stored with a drain, '' when it has none or does not parse. */
function drainReason(value: Uint8Array): string {
  try {
    return String((JSON.parse(decoder.decode(value)) as { reason?: unknown }).reason ?? '');
  } catch {
    return '';
  }
}
