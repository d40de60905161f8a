import { OUTCOMES } from './subjects.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How a stream keeps messages: `limits` keeps them for replay, `workqueue` until acked. */
export type StreamRetention = 'limits' | 'workqueue';

/** The declaration of one JetStream stream, provisioned idempotently by the bus package. */
export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly retention: StreamRetention;
  /** 0 keeps messages until limits other than age remove them. */
  readonly maxAgeMs: number;
  /** Nats-Msg-Id de-duplication window. */
  readonly duplicateWindowMs: number;
}

const spec = (s: StreamSpec) => s;

/** Every stream of DESIGN.md §3. */
export const streams = {
  REQUESTS: spec({
    name: 'REQUESTS',
    subjects: ['requests.admitted.>', 'requests.replace.>'],
    retention: 'limits',
    maxAgeMs: 7 * DAY_MS,
    duplicateWindowMs: 120_000,
  }),
  LIFECYCLE: spec({
    name: 'LIFECYCLE',
    subjects: OUTCOMES.map((o) => `requests.${o}.>`),
    retention: 'limits',
    maxAgeMs: 7 * DAY_MS,
    duplicateWindowMs: 120_000,
  }),
  DISPATCH: spec({ name: 'DISPATCH', subjects: ['dispatch.>'], retention: 'workqueue', maxAgeMs: DAY_MS, duplicateWindowMs: 120_000 }),
  BATCHES: spec({ name: 'BATCHES', subjects: ['batches.>'], retention: 'workqueue', maxAgeMs: DAY_MS, duplicateWindowMs: 120_000 }),
  USAGE: spec({ name: 'USAGE', subjects: ['usage.recorded.>'], retention: 'limits', maxAgeMs: 30 * DAY_MS, duplicateWindowMs: 120_000 }),
  BILLING: spec({ name: 'BILLING', subjects: ['billing.usage.>', 'billing.budget.>'], retention: 'limits', maxAgeMs: 30 * DAY_MS, duplicateWindowMs: 120_000 }),
  DECISIONS: spec({ name: 'DECISIONS', subjects: ['decisions.>'], retention: 'limits', maxAgeMs: 7 * DAY_MS, duplicateWindowMs: 120_000 }),
  /** Operator actions, allowed and denied: kept a year for whoever asks who changed what. */
  AUDIT: spec({ name: 'AUDIT', subjects: ['audit.>'], retention: 'limits', maxAgeMs: 365 * DAY_MS, duplicateWindowMs: 120_000 }),
  DEADLETTER: spec({ name: 'DEADLETTER', subjects: ['deadletter.>'], retention: 'limits', maxAgeMs: 30 * DAY_MS, duplicateWindowMs: 120_000 }),
} as const;

export type StreamName = keyof typeof streams;

/** Durable consumer names: one per consuming service, shared by its replicas. */
export const durables = {
  scheduler: 'scheduler',
  batcher: 'batcher',
  workers: (pool: string) => `workers-${pool}`,
  /** One worker's own batches (`batches.<pool>.<worker>`): that worker pulls them, or a mover after it died. */
  worker: (pool: string, worker: string) => `worker-${pool}--${worker}`,
  metering: 'metering',
  billing: 'billing',
} as const;

/** NATS KV buckets. */
export const buckets = {
  pools: 'pools',
  routes: 'routes',
  policies: 'policies',
  tenants: 'tenants',
  pricebook: 'pricebook',
  /** Which batch each dispatched request went into: exactly-once hand-off from the batcher. */
  batching: 'batching',
  /** The scheduler's rejections per request, so a redelivery repeats them (owner: scheduler). */
  placements: 'placements',
} as const;
