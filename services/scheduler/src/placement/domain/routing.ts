import type { TierName } from '@switchyard/contracts';
import type { Route } from '../../config.js';

/** What `auto` looks at. */
export interface RequestFeatures {
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly tier: TierName;
}

export type Resolution =
  | {
      readonly kind: 'version';
      /** The model version to place (a pool's `version`, or its model id). */
      readonly version: string;
      /** Aliases followed, in order (empty when the name was a version already). */
      readonly via: readonly string[];
      /** The version is a route's running canary. */
      readonly canary: boolean;
      /** Why this version, in words, for the decision event. */
      readonly reason: string;
    }
  | { readonly kind: 'unknown'; readonly reason: string };

/** `auto:small` / `auto:large`: the caller's explicit hint. */
const HINT = /^(.+):(small|large)$/;
const MAX_DEPTH = 4;

/** Weight each version gets now: a rolled-back canary gets none. */
export function effectiveWeights(route: Route): Array<{ version: string; weight: number; canary: boolean }> {
  const trial = route.canary?.status === 'running' ? route.canary.version : undefined;
  const stopped = route.canary?.status === 'rolled-back' ? route.canary.version : undefined;
  return route.versions.map((v) => ({ version: v.version, weight: v.version === stopped ? 0 : v.weight, canary: v.version === trial }));
}

/** The small/large pick of an `auto` route, with the rule that decided it. */
function pickAuto(auto: NonNullable<Route['auto']>, f: RequestFeatures, hint: 'small' | 'large' | undefined): { alias: string; why: string } {
  if (hint) return { alias: hint === 'small' ? auto.small : auto.large, why: `hint ${hint}` };
  if (f.tier === 'batch') return { alias: auto.large, why: 'batch tier: accuracy over speed' };
  if (f.promptTokens > auto.maxSmallPromptTokens) return { alias: auto.large, why: `prompt ${f.promptTokens} > ${auto.maxSmallPromptTokens} tokens` };
  if (f.maxTokens > auto.maxSmallOutputTokens) return { alias: auto.large, why: `max_tokens ${f.maxTokens} > ${auto.maxSmallOutputTokens}` };
  return { alias: auto.small, why: `short request (prompt ${f.promptTokens}, max_tokens ${f.maxTokens})` };
}

/**
 * Resolves a requested model name through the routes: aliases to weighted versions (one of
 * them possibly a canary), `auto` to a small or large alias by the request's features or an
 * explicit `:small` / `:large` hint. A name with no route is taken as a version. `draw` is a
 * uniform number in [0, 1) for the weighted pick.
 */
export function resolveModel(name: string, features: RequestFeatures, routes: ReadonlyMap<string, Route>, draw: number): Resolution {
  const hinted = HINT.exec(name);
  let current = hinted ? hinted[1]! : name;
  const hint = hinted ? (hinted[2] as 'small' | 'large') : undefined;
  const via: string[] = [];
  const why: string[] = [];
  let canary = false;
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    const route = routes.get(current);
    if (!route) {
      if (hint && depth === 0) return { kind: 'unknown', reason: `"${name}": a :small/:large hint needs an auto route named "${current}"` };
      return { kind: 'version', version: current, via, canary, reason: via.length === 0 ? 'model named directly' : why.join('; ') };
    }
    if (depth === MAX_DEPTH) break;
    via.push(current);
    if (route.auto) {
      const pick = pickAuto(route.auto, features, hint);
      why.push(`${current} -> ${pick.alias} (${pick.why})`);
      current = pick.alias;
      continue;
    }
    const weights = effectiveWeights(route).filter((w) => w.weight > 0);
    const total = weights.reduce((a, w) => a + w.weight, 0);
    if (total <= 0) return { kind: 'unknown', reason: `route "${current}" has no version with a weight above 0` };
    let at = draw * total;
    const chosen = weights.find((w) => (at -= w.weight) < 0) ?? weights[weights.length - 1]!;
    const share = Math.round((chosen.weight / total) * 100);
    why.push(`${current} -> ${chosen.version} (${share}% of traffic${chosen.canary ? ', canary' : ''})`);
    canary ||= chosen.canary;
    current = chosen.version;
  }
  return { kind: 'unknown', reason: `routes from "${name}" go deeper than ${MAX_DEPTH} aliases (a loop?)` };
}
