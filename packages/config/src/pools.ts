import { z } from 'zod';
import { loadYamlFile } from './load-config.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'use lower-case letters, digits and "-"');

/** One GPU worker pool: where it runs, what it serves and what it costs. */
export const poolSchema = z.object({
  id,
  provider: id,
  region: id,
  gpu: z.enum(['h100-80gb', 'h200-141gb']),
  model: z.enum(['llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4']),
  /** Simulated workers in this pool. */
  workers: z.number().int().min(1).max(256),
  capacityClass: z.enum(['reserved', 'on-demand', 'spot']),
  /** Price of one GPU-hour in the currency unit. */
  pricePerGpuHour: z.number().positive(),
  /** Tiers this pool may serve. Default: all. */
  tiers: z.array(z.enum(['realtime', 'internal', 'batch'])).min(1).default(['realtime', 'internal', 'batch']),
  /** Sequences one worker runs at once. Default 32. */
  slotsPerWorker: z.number().int().min(1).max(1024).default(32),
});

export const poolsFileSchema = z
  .object({ pools: z.array(poolSchema).min(1) })
  .refine((f) => new Set(f.pools.map((p) => p.id)).size === f.pools.length, 'pool ids must be unique');

export type PoolSpec = z.infer<typeof poolSchema>;

/** Reads and validates a pools file (see deploy/pools.yaml). */
export function loadPoolsFile(path: string): PoolSpec[] {
  return loadYamlFile(path, poolsFileSchema).pools;
}
