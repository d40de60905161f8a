import { DomainError } from '@switchyard/contracts';

/** One name a caller may send as `model`. */
export interface CatalogModel {
  readonly id: string;
  /** `model`: a version some pool serves; `alias`: a route; `hint`: an auto route's `:small` / `:large`. */
  readonly kind: 'model' | 'alias' | 'hint';
  /** When Switchyard first served the version, or when the route was last written (Unix ms). */
  readonly createdUnixMs: number;
}

/** What a stored route says about names: the versions it sends traffic to, and the aliases `auto` picks between. */
export interface RouteNames {
  readonly versions: readonly string[];
  readonly auto: boolean;
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
  return { versions: names, auto: typeof auto === 'object' && auto !== null, writtenUnixMs };
}

/**
 * The catalog from what the scheduler publishes: the versions its pools serve (with when
 * each was first served) and its routes. A route's versions are callable by name too, and an
 * `auto` route also takes the `:small` / `:large` hints.
 */
export function buildCatalog(served: ReadonlyMap<string, number>, routes: ReadonlyMap<string, RouteNames>): ModelCatalog {
  const catalog = new Map<string, CatalogModel>();
  const add = (id: string, kind: CatalogModel['kind'], createdUnixMs: number) => {
    const known = catalog.get(id);
    if (!known || (known.kind === kind && createdUnixMs < known.createdUnixMs)) catalog.set(id, { id, kind, createdUnixMs });
  };
  for (const [version, firstServedUnixMs] of served) add(version, 'model', firstServedUnixMs);
  for (const [alias, route] of routes) {
    add(alias, 'alias', route.writtenUnixMs);
    for (const version of route.versions) add(version, 'model', served.get(version) ?? route.writtenUnixMs);
    if (route.auto) for (const hint of ['small', 'large']) add(`${alias}:${hint}`, 'hint', route.writtenUnixMs);
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
  throw new DomainError('NOT_FOUND', `the model ${named} does not exist or is not served here; available: ${shown || 'none yet'}`, {
    reason: 'model_not_found',
  });
}
