import { loadYamlFile, z } from '@switchyard/config';

/** What the scheduler does with a request of a tier when no pool can meet its objective. */
export const OVERLOAD_ACTIONS = ['shed', 'queue', 'wait'] as const;
export type OverloadAction = (typeof OVERLOAD_ACTIONS)[number];

const tierSchema = z.object({
  /** Time-to-first-token objective, simulated ms (the GPU's time). */
  ttftMs: z.number().positive(),
  /**
   * `shed`: reject at once with a reason and a retry delay; `queue`: place on the best pool
   * anyway and wait in its queue; `wait`: hold the request until a pool has idle capacity
   * (up to `maxWaitMs`), then queue it.
   */
  onOverload: z.enum(OVERLOAD_ACTIONS),
  /** Longest a `wait` tier is held for idle capacity before it queues anyway. */
  maxWaitMs: z.number().int().min(0).default(600_000),
  /** Pools this tier may use (ids); default: every pool whose `tiers` lists it. */
  pools: z.array(z.string()).optional(),
  /** Capacity classes this tier may use; default all. */
  capacityClasses: z.array(z.enum(['reserved', 'on-demand', 'spot'])).optional(),
  /** Retry delay suggested to a shed request when nothing better is known. */
  retryAfterMs: z.number().int().min(0).default(1_000),
  /** Weight of latency headroom against cost in the score, 0..1. */
  latencyWeight: z.number().min(0).max(1),
});

export type TierPolicy = z.infer<typeof tierSchema>;

const versionWeight = z.object({ version: z.string().min(1), weight: z.number().min(0) });

/** A route: an alias resolved to model versions by weight; at most one may be a canary. */
export const routeSchema = z
  .object({
    /** Versions (or other aliases) and their weights; empty for an `auto` route. */
    versions: z.array(versionWeight).default([]),
    /** The version on trial; its weight is the share of traffic it gets. */
    canary: z
      .object({
        version: z.string().min(1),
        status: z.enum(['running', 'rolled-back', 'promoted']).default('running'),
        reason: z.string().default(''),
        sinceUnixMs: z.number().default(0),
      })
      .optional(),
    /** For `auto`: the aliases it chooses between, and the request sizes a small model takes. */
    auto: z
      .object({
        small: z.string(),
        large: z.string(),
        maxSmallPromptTokens: z.number().int().min(0).default(512),
        maxSmallOutputTokens: z.number().int().min(0).default(256),
      })
      .optional(),
  })
  .refine((r) => r.auto !== undefined || r.versions.length > 0, 'a route needs versions with weights, or an auto rule');

export type Route = z.infer<typeof routeSchema>;

/**
 * Routes every scheduler seeds unless the pools file names its own under the same alias:
 * `chat-large` (Llama 3.1 8B), `chat-small` (Llama 3.2 1B), and `auto`, which picks between them
 * by request size and tier (or a `auto:small` / `auto:large` hint).
 */
export const DEFAULT_ROUTES: Readonly<Record<string, Route>> = {
  'chat-large': { versions: [{ version: 'llama-3.1-8b', weight: 1 }] },
  'chat-small': { versions: [{ version: 'llama-3.2-1b', weight: 1 }] },
  auto: { versions: [], auto: { small: 'chat-small', large: 'chat-large', maxSmallPromptTokens: 512, maxSmallOutputTokens: 256 } },
};

/**
 * `switchyard`: predicted TTFT (with the expected prefix-cache hit) against cost;
 * `switchyard-no-prefix`: the same without the prefix term (a baseline for `bench:prefix`);
 * `prefix-affinity`: the longest cached prefix, whatever the load; the rest ignore both.
 */
export const POLICIES = ['switchyard', 'switchyard-no-prefix', 'round-robin', 'random', 'least-loaded', 'prefix-affinity'] as const;
export type PolicyName = (typeof POLICIES)[number];

const canarySchema = z.object({
  /** Terminal outcomes of the canary needed before it is judged. */
  minRequests: z.number().int().min(1).default(20),
  /** Roll back when the canary's error rate exceeds the baseline's by more than this. */
  maxErrorRateDelta: z.number().min(0).max(1).default(0.05),
  /** Roll back when the canary's p90 TTFT exceeds the baseline's by this factor. */
  maxTtftRatio: z.number().min(1).default(2),
  /** Outcomes older than this are forgotten. */
  windowMs: z.number().int().min(1_000).default(300_000),
});

export type CanaryThresholds = z.infer<typeof canarySchema>;

/** The `scheduling:` section of the pools file; every field has a default. */
export const schedulingSchema = z.object({
  /** `switchyard` scores pools; the others are baselines for benchmarks. */
  policy: z.enum(POLICIES).default('switchyard'),
  /** A worker silent this long is out (heartbeats come every second). */
  staleAfterMs: z.number().int().min(500).default(2_000),
  /** Simulated GPU time per real time (the simulator's speed); 1 for real fleets. */
  speed: z.number().positive().default(1),
  tiers: z
    .object({
      realtime: tierSchema.default({ ttftMs: 1_000, onOverload: 'shed', latencyWeight: 0.8, maxWaitMs: 0, retryAfterMs: 1_000 }),
      internal: tierSchema.default({ ttftMs: 5_000, onOverload: 'queue', latencyWeight: 0.5, maxWaitMs: 0, retryAfterMs: 1_000 }),
      batch: tierSchema.default({ ttftMs: 600_000, onOverload: 'wait', latencyWeight: 0.1, maxWaitMs: 600_000, retryAfterMs: 1_000 }),
    })
    .prefault({}),
  /** Per tenant: regions its requests may run in (data residency). */
  tenants: z.record(z.string(), z.object({ regions: z.array(z.string()).min(1).optional() })).default({}),
  /**
   * Routes written to the `routes` bucket when missing there (the bucket wins afterwards), on
   * top of {@link DEFAULT_ROUTES}.
   */
  routes: z.record(z.string().regex(/^[a-z0-9][a-z0-9.-]{0,63}$/), routeSchema).default({}),
  canary: canarySchema.prefault({}),
});

export type SchedulingConfig = z.infer<typeof schedulingSchema>;

/** Defaults for everything, for tests and for pools files without a `scheduling:` section. */
export const defaultScheduling = (overrides: Partial<z.input<typeof schedulingSchema>> = {}): SchedulingConfig => schedulingSchema.parse(overrides);

/** Reads the `scheduling:` section of a pools file (absent: every default). */
export function loadSchedulingFile(path: string): SchedulingConfig {
  return loadYamlFile(path, z.object({ scheduling: schedulingSchema.prefault({}) })).scheduling;
}
