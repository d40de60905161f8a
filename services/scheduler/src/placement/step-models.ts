import type { PoolSpec } from '@switchyard/config';
import { createPerfModel, loadProfiles } from '@switchyard/perf-model';
import type { StepModel } from './domain/scoring.js';

export type { StepModel };

/**
 * The simulator's performance model (measured H100/H200 step latencies, interpolated) of each
 * pool's model on its GPU, keyed by pool id: the scheduler predicts with the same numbers the
 * workers run on.
 */
export async function loadStepModels(pools: readonly PoolSpec[], profilesDir?: string): Promise<Map<string, StepModel>> {
  const profiles = await loadProfiles(profilesDir);
  const models = new Map<string, StepModel>();
  // Pools of one GPU type and model share one model: its tables are built once, and a large
  // fleet's decisions stay in cache.
  const shared = new Map<string, StepModel>();
  for (const pool of pools) {
    const key = `${pool.gpu}/${pool.model}`;
    let model = shared.get(key);
    if (!model) {
      const { rows, meta } = profiles[pool.gpu];
      shared.set(key, (model = createPerfModel(rows, meta, pool.model)));
    }
    models.set(pool.id, model);
  }
  return models;
}
