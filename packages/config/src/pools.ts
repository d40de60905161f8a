import { TENANT_ID, TIERS } from '@switchyard/contracts';
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
  tiers: z
    .array(z.enum(TIERS))
    .min(1)
    .default([...TIERS]),
  /** Sequences one worker runs at once. Default 32. */
  slotsPerWorker: z.number().int().min(1).max(1024).default(32),
  /**
   * Tokens one engine iteration of a worker pushes through the model (decodes plus prefill
   * chunks), the chunked-prefill budget. Optional; the worker simulator defaults to 2048.
   */
  maxBatchTokens: z.number().int().min(16).max(65_536).optional(),
  /**
   * Model version deployed on this pool, as routes name it (e.g. `llama-3.1-8b-v2` for a
   * canary build of `llama-3.1-8b`). Optional; default: the model id.
   */
  version: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{0,63}$/, 'use lower-case letters, digits, "." and "-"')
    .optional(),
  /**
   * Tenants holding reserved capacity on this pool: they use it first and spill over to
   * shared pools when it is saturated; other tenants may only use its idle capacity for
   * batch work. Optional; default: shared by every tenant.
   */
  reservedFor: z.array(z.string().regex(TENANT_ID)).optional(),
});

export const poolsFileSchema = z
  .object({ pools: z.array(poolSchema).min(1) })
  .refine((f) => new Set(f.pools.map((p) => p.id)).size === f.pools.length, 'pool ids must be unique');

export type PoolSpec = z.infer<typeof poolSchema>;

/** Reads and validates a pools file (see deploy/pools.yaml). */
export function loadPoolsFile(path: string): PoolSpec[] {
  return loadYamlFile(path, poolsFileSchema).pools;
}
