import { DomainError } from '@switchyard/contracts';

/** One name a caller may send as `model`. */
export interface CatalogModel {
  readonly id: string;
  /** `model`: a version some pool serves; `alias`: a route; `hint`: an auto route's `:small` / `:large`. */
  readonly kind: 'model' | 'alias' | 'hint';
  /** When Switchyard first served the version, or when the route was last written (Unix ms). */
  readonly createdUnixMs: number;
}

/** What a stored route says about names: the versions it sends traffic to, or the aliases `auto` picks between. */
export interface RouteNames {
  readonly versions: readonly string[];
  /** An auto route's small and large aliases; absent for a weighted route. */
  readonly auto?: { readonly small: string; readonly large: string };
  readonly writtenUnixMs: number;
}

/** Every name a caller may send, by id. */
export type ModelCatalog = ReadonlyMap<string, CatalogModel>;

/**
 * Reads the names out of a route as the scheduler stores it (`versions[].version`, `auto`);
 * undefined for a value that is not a route. The scheduler validates routes fully; admission
 * only needs their names.
 */
export function routeNames(json: unknown, writtenUnixMs: number): RouteNames | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { versions, auto } = json as { versions?: unknown; auto?: unknown };
  if (!Array.isArray(versions)) return undefined;
  const names = versions.map((v: { version?: unknown } | null) => v?.version).filter((v): v is string => typeof v === 'string');
  const { small, large } = (auto ?? {}) as { small?: unknown; large?: unknown };
  if (typeof small === 'string' && typeof large === 'string') return { versions: names, auto: { small, large }, writtenUnixMs };
  return { versions: names, writtenUnixMs };
}

/** How many aliases deep a name may resolve, as the scheduler follows them (routing.ts). */
const MAX_DEPTH = 4;

/**
 * The catalog from what the scheduler publishes: the versions its pools serve (with when
 * each was first served), and every route that leads to one of them, with an `auto` route's
 * `:small` / `:large` hints. A name that leads to nothing served is left out: a call to it
 * could only be rejected after it was admitted and paid for.
 */
export function buildCatalog(served: ReadonlyMap<string, number>, routes: ReadonlyMap<string, RouteNames>): ModelCatalog {
  const reaches = (name: string, depth: number): boolean => {
    if (served.has(name)) return true;
    const route = routes.get(name);
    if (!route || depth >= MAX_DEPTH) return false;
    return route.auto ? reaches(route.auto.small, depth + 1) || reaches(route.auto.large, depth + 1) : route.versions.some((v) => reaches(v, depth + 1));
  };
  const catalog = new Map<string, CatalogModel>();
  for (const [version, firstServedUnixMs] of served) catalog.set(version, { id: version, kind: 'model', createdUnixMs: firstServedUnixMs });
  for (const [alias, route] of routes) {
    if (catalog.has(alias) || !reaches(alias, 0)) continue;
    catalog.set(alias, { id: alias, kind: 'alias', createdUnixMs: route.writtenUnixMs });
    for (const [hint, target] of route.auto ? Object.entries(route.auto) : []) {
      if (reaches(target, 1)) catalog.set(`${alias}:${hint}`, { id: `${alias}:${hint}`, kind: 'hint', createdUnixMs: route.writtenUnixMs });
    }
  }
  return catalog;
}

/** Names shown in a refusal: enough to spot the right one, never an unbounded list. */
const LISTED = 40;

/**
 * Refuses a model nobody serves and no route names, before anything is spent, as OpenAI does
 * (404 `model_not_found`), listing what is available. The name is echoed only when short.
 */
export function requireKnownModel(catalog: ModelCatalog, name: string): void {
  if (catalog.has(name)) return;
  const ids = [...catalog.keys()].sort();
  const shown = ids.slice(0, LISTED).join(', ') + (ids.length > LISTED ? ` and ${ids.length - LISTED} more (GET /v1/models)` : '');
  const named = /^[\x21-\x7e]{1,64}$/.test(name) ? `"${name}"` : `of ${name.length} characters`;
  // An empty catalog means no scheduler has announced its pools yet (or none runs), not a typo.
  const available = shown || 'none yet (the scheduler announces the models its pools serve when it starts)';
  throw new DomainError('NOT_FOUND', `the model ${named} does not exist or is not served here; available: ${available}`, {
    reason: 'model_not_found',
  });
}
