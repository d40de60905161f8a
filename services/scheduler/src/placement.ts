import type { PoolSpec } from '@switchyard/config';
import type { Candidate, RequestSpec, WorkerHeartbeat } from '@switchyard/contracts';
import type { TierName } from '@switchyard/contracts';

/** Live state of one pool, folded from its workers' heartbeats. */
export interface PoolState {
  readonly healthyWorkers: number;
  readonly freeSlots: number;
}

export type Placement =
  | { readonly kind: 'placed'; readonly pool: string; readonly candidates: Candidate[]; readonly reason: string }
  | { readonly kind: 'wait'; readonly reason: string; readonly candidates: Candidate[] }
  | { readonly kind: 'reject'; readonly reason: string; readonly retryAfterMs: number; readonly candidates: Candidate[] };

/** Folds heartbeats into per-pool state; a worker silent for `staleMs` does not count. */
export function poolStates(heartbeats: Iterable<WorkerHeartbeat>, nowMs: number, staleMs: number): Map<string, PoolState> {
  const states = new Map<string, { healthyWorkers: number; freeSlots: number }>();
  for (const h of heartbeats) {
    if (nowMs - h.atUnixMs > staleMs || h.draining) continue;
    const s = states.get(h.pool) ?? { healthyWorkers: 0, freeSlots: 0 };
    s.healthyWorkers++;
    s.freeSlots += h.freeSlots;
    states.set(h.pool, s);
  }
  return states;
}

/**
 * Walking-skeleton placement: among pools that serve the model and the tier, the first with
 * a healthy worker. Unknown models are rejected outright; a known model with no healthy
 * pool waits briefly for one (workers may be starting or failing over).
 */
export function placeRequest(request: RequestSpec, tier: TierName, pools: readonly PoolSpec[], states: ReadonlyMap<string, PoolState>): Placement {
  const serving = pools.filter((p) => p.model === request.model);
  if (serving.length === 0) {
    const models = [...new Set(pools.map((p) => p.model))].join(', ');
    return { kind: 'reject', reason: `no pool serves model "${request.model}"; available: ${models}`, retryAfterMs: 0, candidates: [] };
  }
  const candidates: Candidate[] = serving.map((p) => {
    const state = states.get(p.id);
    const reason = !p.tiers.includes(tier) ? `tier ${tier} not allowed` : !state ? 'no healthy worker' : 'healthy';
    return { id: p.id, score: reason === 'healthy' ? 1 : 0, reason };
  });
  const chosen = candidates.find((c) => c.score > 0);
  if (chosen) return { kind: 'placed', pool: chosen.id, candidates, reason: 'first healthy pool serving the model and tier' };
  if (candidates.every((c) => c.reason.startsWith('tier'))) {
    return { kind: 'reject', reason: `no pool serving "${request.model}" accepts tier ${tier}`, retryAfterMs: 0, candidates };
  }
  return { kind: 'wait', reason: `no healthy pool serves "${request.model}" right now`, candidates };
}
