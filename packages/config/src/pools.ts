import { TENANT_ID, TIERS } from '@switchyard/contracts';
import { z } from 'zod';
import { loadYamlFile } from './load-config.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'use lower-case letters, digits and "-"');

/**
 * Who serves a pool's batches: `simulated` GPUs (the worker simulator), a self-hosted
 * `openai-compatible` engine (vLLM, SGLang, TGI, llama.cpp, Ollama) or a cloud `provider`
 * with the OpenAI wire format; the last two are served by the engine adapter.
 */
export const POOL_KINDS = ['simulated', 'openai-compatible', 'provider'] as const;

/** Where an engine adapter sends a pool's requests. */
export const endpointSchema = z
  .object({
    /** Base URL of the OpenAI-compatible API, up to and including `/v1`. */
    baseUrl: z.string().url('baseUrl must be a URL such as http://vllm:8000/v1').optional(),
    /**
     * Instead of `baseUrl`: several engine replicas serving the pool (e.g. one vLLM per GPU).
     * Each is one worker of the pool, with its own concurrency limit, heartbeat and breaker.
     */
    baseUrls: z.array(z.string().url('baseUrls holds URLs such as http://vllm-0:8000/v1')).min(1).optional(),
    /**
     * Scrape the engine's Prometheus endpoint (vLLM, SGLang) for its queue, KV-cache use and
     * TTFT. Default: on for `openai-compatible` pools, off for `provider` pools.
     */
    scrapeMetrics: z.boolean().optional(),
    /** Where the metrics are, for a single `baseUrl`. Default: `/metrics` at the base URL's origin. */
    metricsUrl: z.string().url().optional(),
    /**
     * NAME of the environment variable holding the API key (never the key itself, which must
     * stay out of this file and of logs). Optional: self-hosted engines often need none.
     */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'apiKeyEnv names an environment variable (e.g. AZURE_OPENAI_KEY), it is not the key')
      .optional(),
    /** Model name the upstream knows this pool's model by. Default: the pool's model id. */
    upstreamModel: z.string().min(1).optional(),
    /** Requests sent upstream at once by one adapter process. Default 16. */
    concurrency: z.number().int().min(1).max(4_096).default(16),
    /** Ms from sending a request to its first token before it fails as timed out. Default 30,000. */
    firstTokenTimeoutMs: z.number().int().min(1).default(30_000),
    /**
     * A provider's rate limits, as capacity: requests and tokens (prompt + max_tokens) per minute
     * this adapter sends. Optional; a 429 also pauses the upstream for its retry-after.
     */
    requestsPerMinute: z.number().int().min(1).optional(),
    tokensPerMinute: z.number().int().min(1).optional(),
    /** Ms of silence between two stream events before it fails as timed out. Default 30,000. */
    idleTimeoutMs: z.number().int().min(1).default(30_000),
  })
  .strict();

/**
 * What a `provider` pool's upstream charges the platform, in currency units per million
 * tokens (so also micros per token). Cached input defaults to the input price: not every
 * provider discounts a cached prefix.
 */
export const tokenPricesSchema = z
  .object({
    inputPerMillion: z.number().nonnegative(),
    /** Default: `inputPerMillion`. */
    cachedInputPerMillion: z.number().nonnegative().optional(),
    outputPerMillion: z.number().nonnegative(),
  })
  .strict();

/** One GPU worker pool: where it runs, what it serves and what it costs. */
export const poolSchema = z.object({
  id,
  /** Who serves the pool (see `POOL_KINDS`). Default `simulated`. */
  kind: z.enum(POOL_KINDS, { error: () => `kind must be one of ${POOL_KINDS.join(', ')}` }).default('simulated'),
  /** Required for `openai-compatible` and `provider` pools; not allowed for `simulated` ones. */
  endpoint: endpointSchema.optional(),
  provider: id,
  region: id,
  gpu: z.enum(['h100-80gb', 'h200-141gb']),
  model: z.enum(['llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4']),
  /**
   * Workers in this pool: simulated GPUs, or for an engine pool its engines (one per entry of
   * `endpoint.baseUrl(s)`), which the scheduler's predictions count.
   */
  workers: z.number().int().min(1).max(256),
  capacityClass: z.enum(['reserved', 'on-demand', 'spot']),
  /**
   * Price of one GPU-hour in the currency unit. Required for `simulated` and
   * `openai-compatible` pools (the platform pays for the GPUs, busy or idle); a `provider`
   * pool leaves it out and sets `tokenPrices`.
   */
  pricePerGpuHour: z.number().positive().optional(),
  /**
   * What a `provider` pool costs the platform per token (see `tokenPricesSchema`). Required
   * for `provider` pools, not allowed for the others: the platform pays a provider per token
   * and its own GPUs per hour, never both for one pool.
   */
  tokenPrices: tokenPricesSchema.optional(),
  /** Tiers this pool may serve. Default: all. */
  tiers: z
    .array(z.enum(TIERS))
    .min(1)
    .default([...TIERS]),
  /**
   * Sequences one worker runs at once. Default 32. For an engine pool, what one engine runs at
   * once (vLLM's `--max-num-seqs`): the scheduler predicts queueing from it and the engine's
   * reported queue.
   */
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
  .object({
    pools: z
      .array(
        poolSchema.superRefine((p, ctx) => {
          if (p.kind !== 'simulated' && !p.endpoint) {
            ctx.addIssue({ code: 'custom', path: ['endpoint'], message: `pool ${p.id} of kind ${p.kind} needs an endpoint (baseUrl, apiKeyEnv, ...)` });
          }
          if (p.endpoint && (p.endpoint.baseUrl === undefined) === (p.endpoint.baseUrls === undefined)) {
            ctx.addIssue({
              code: 'custom',
              path: ['endpoint'],
              message: `pool ${p.id}: give its endpoint either baseUrl or baseUrls (a list), not both or neither`,
            });
          }
          const engines = p.endpoint?.baseUrls?.length ?? 1;
          if (p.kind === 'openai-compatible' && p.endpoint && p.workers !== engines) {
            ctx.addIssue({
              code: 'custom',
              path: ['workers'],
              message: `pool ${p.id} lists ${engines} engine(s) in its endpoint; set workers: ${engines} (the scheduler predicts from it)`,
            });
          }
          if (p.endpoint?.metricsUrl && p.endpoint.baseUrls) {
            ctx.addIssue({
              code: 'custom',
              path: ['endpoint', 'metricsUrl'],
              message: `pool ${p.id}: metricsUrl goes with a single baseUrl; with baseUrls each engine's /metrics is used`,
            });
          }
          if (p.kind === 'simulated' && p.endpoint) {
            ctx.addIssue({ code: 'custom', path: ['endpoint'], message: `pool ${p.id} is simulated; an endpoint needs kind openai-compatible or provider` });
          }
          if (p.kind === 'provider') {
            if (!p.tokenPrices)
              ctx.addIssue({
                code: 'custom',
                path: ['tokenPrices'],
                message: `pool ${p.id} is a provider pool, priced per token: set tokenPrices (inputPerMillion, outputPerMillion, optional cachedInputPerMillion)`,
              });
            if (p.pricePerGpuHour !== undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['pricePerGpuHour'],
                message: `pool ${p.id} is a provider pool, priced per token: remove pricePerGpuHour (its GPUs are not the platform's)`,
              });
          } else {
            if (p.pricePerGpuHour === undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['pricePerGpuHour'],
                message: `pool ${p.id} of kind ${p.kind} runs on the platform's GPUs: set pricePerGpuHour`,
              });
            if (p.tokenPrices)
              ctx.addIssue({
                code: 'custom',
                path: ['tokenPrices'],
                message: `pool ${p.id} of kind ${p.kind} is priced per GPU-hour: remove tokenPrices, or make it kind provider`,
              });
          }
        }),
      )
      .min(1),
  })
  .refine((f) => new Set(f.pools.map((p) => p.id)).size === f.pools.length, 'pool ids must be unique');

export type PoolKind = (typeof POOL_KINDS)[number];
/** A pool as loaded; `kind` may be left out by pools built in code, and then means `simulated`. */
export type PoolSpec = Omit<z.infer<typeof poolSchema>, 'kind'> & { readonly kind?: PoolKind };

/** Who serves `pool`: its `kind`, `simulated` when unset. */
export const poolKind = (pool: Pick<PoolSpec, 'kind'>): PoolKind => pool.kind ?? 'simulated';
export type EndpointSpec = z.infer<typeof endpointSchema>;
export type TokenPrices = z.infer<typeof tokenPricesSchema>;

/** One engine (or provider endpoint) behind a pool: where its API and its metrics are. */
export interface Upstream {
  readonly baseUrl: string;
  /** Undefined: not scraped. */
  readonly metricsUrl?: string;
}

/** The upstreams of an engine pool, one per `baseUrl(s)` entry, with where each one's metrics are scraped. */
export function poolUpstreams(pool: Pick<PoolSpec, 'kind' | 'endpoint'>): Upstream[] {
  const e = pool.endpoint;
  if (!e) return [];
  const scrape = e.scrapeMetrics ?? poolKind(pool) === 'openai-compatible';
  return (e.baseUrls ?? [e.baseUrl!]).map((baseUrl) => ({
    baseUrl,
    ...(scrape ? { metricsUrl: e.metricsUrl ?? `${new URL(baseUrl).origin}/metrics` } : {}),
  }));
}

/** Reads and validates a pools file (see deploy/pools.yaml). */
export function loadPoolsFile(path: string): PoolSpec[] {
  return loadYamlFile(path, poolsFileSchema).pools;
}
