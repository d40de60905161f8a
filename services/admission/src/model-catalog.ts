import { mirrorBucket, type KV } from '@switchyard/bus';
import { routesKeys } from '@switchyard/contracts';
import { buildCatalog, routeNames, type ModelCatalog, type RouteNames } from './domain/model-catalog.js';

export interface ModelCatalogFeed {
  /** Every name a caller may send now. */
  catalog(): ModelCatalog;
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/**
 * Mirrors what the scheduler publishes in the `routes` bucket (the served model versions and
 * the routes) into the catalog admission checks every request's model against. A value that
 * does not parse is reported and left out.
 */
export async function followModelCatalog(kv: KV, onInvalid: (key: string, problem: unknown) => void): Promise<ModelCatalogFeed> {
  const served = new Map<string, number>();
  const routes = new Map<string, RouteNames>();
  let catalog: ModelCatalog = new Map();
  const mirror = await mirrorBucket(kv, (key, value, writtenUnixMs) => {
    const version = routesKeys.modelOf(key);
    const alias = routesKeys.aliasOf(key);
    if (version === undefined && alias === undefined) return;
    try {
      const json: unknown = value && value.length > 0 ? JSON.parse(decoder.decode(value)) : undefined;
      if (version !== undefined) {
        if (json === undefined) served.delete(version);
        else served.set(version, Number((json as { firstServedUnixMs?: unknown }).firstServedUnixMs) || writtenUnixMs);
      } else if (alias !== undefined) {
        const names = json === undefined ? undefined : routeNames(json, writtenUnixMs);
        if (json !== undefined && !names) throw new Error('not a route');
        if (names) routes.set(alias, names);
        else routes.delete(alias);
      }
    } catch (e) {
      onInvalid(key, e);
    }
    catalog = buildCatalog(served, routes);
  });
  return { catalog: () => catalog, stop: () => mirror.stop() };
}
