/**
 * Every subject Switchyard publishes on is built here, so no service concatenates strings.
 * Partition keys (tier, tenant, pool) sit in the subject so streams can be split later.
 */

/** Terminal outcomes, as they appear in lifecycle subjects. */
export const OUTCOMES = ['completed', 'failed', 'cancelled', 'expired', 'rejected'] as const;
export type OutcomeName = (typeof OUTCOMES)[number];

/** Tier names, as they appear in subjects and configuration. */
export const TIERS = ['realtime', 'internal', 'batch'] as const;
export type TierName = (typeof TIERS)[number];

/**
 * Every operator action the audit trail records, as it appears in `audit.<action>.<scope>`:
 * pools and routes (scheduler Ops API and console, or the CLI), budgets, credit and
 * reservations (billing), keys, tenant limits and policies (the CLI, which writes those KV
 * buckets itself). Price-book versions have no operator API yet (billing seeds them from its
 * configuration at start), so there is nothing of theirs to record.
 */
export const AUDIT_ACTIONS = [
  'drain',
  'undrain',
  'route-weights',
  'budget-set',
  'credit-add',
  'reservation-create',
  'key-create',
  'key-revoke',
  'tenant-limits',
  'tenant-delete',
  'policy-set',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The scope of an action on the fleet as a whole (a pool, a route) rather than one tenant. */
export const AUDIT_FLEET_SCOPE = '_fleet';

/** Subject tokens may not hold separators or wildcards; ids are checked before use. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new Error(`${kind} "${value}" cannot be a subject token: use letters, digits, "-" or "_"`);
  }
  return value;
}

export const subjects = {
  requestAdmitted: (tier: TierName, tenant: string) => `requests.admitted.${tier}.${token('tenant', tenant)}`,
  /** A worker asks the scheduler to place a request elsewhere: its upstream failed before the first token. */
  requestReplace: (tier: TierName, tenant: string) => `requests.replace.${tier}.${token('tenant', tenant)}`,
  requestTerminated: (outcome: OutcomeName, tenant: string) => `requests.${outcome}.${token('tenant', tenant)}`,
  dispatch: (pool: string) => `dispatch.${token('pool', pool)}`,
  /** Batches for any worker of the pool, or with `worker`, for that worker only (it holds their prefixes). */
  batches: (pool: string, worker?: string) => (worker ? `batches.${token('pool', pool)}.${token('worker', worker)}` : `batches.${token('pool', pool)}`),
  usageRecorded: (tenant: string) => `usage.recorded.${token('tenant', tenant)}`,
  billingUsage: (tenant: string) => `billing.usage.${token('tenant', tenant)}`,
  billingBudget: (tenant: string) => `billing.budget.${token('tenant', tenant)}`,
  decision: (service: 'admission' | 'policy' | 'scheduler', tenant: string) => `decisions.${service}.${token('tenant', tenant)}`,
  /**
   * Changes the scheduler made to a route on its own (a canary rolled back), with the reason;
   * "." in the alias becomes "_" (subject tokens hold no dots).
   */
  routeDecision: (alias: string) => `decisions.routes.${token('route alias', alias.replaceAll('.', '_'))}`,
  /** An operator action on a tenant, or on the fleet ({@link AUDIT_FLEET_SCOPE}). */
  audit: (action: AuditAction, scope: string) => `audit.${action}.${token('audit scope', scope)}`,
  deadLetter: (stream: string, consumer: string) => `deadletter.${token('stream', stream)}.${token('consumer', consumer)}`,
  /** Core NATS: the caller went away or its deadline passed; workers stop generating. */
  cancelRequest: (requestId: string) => `_SY.cancel.${token('request id', requestId)}`,
  /**
   * Core NATS: operator commands (`WorkerFault`) to simulated workers, every worker of a pool
   * or, with `worker`, one of them.
   */
  workerControl: (pool: string, worker?: string) =>
    worker === undefined ? `ops.worker.${token('pool', pool)}` : `ops.worker.${token('pool', pool)}.${token('worker', worker)}`,
  /** Core NATS: `KvCacheEvents` of one worker's prefix cache. */
  kvEvents: (pool: string, worker: string) => `kv.events.${token('pool', pool)}.${token('worker', worker)}`,
  /** Core NATS: asks every worker for a snapshot of its prefix cache (a scheduler started or lost events). */
  kvResync: 'kv.resync',
  /** Core NATS inbox for one request's token chunks. */
  tokenInbox: (requestId: string, relay = 'any') => `_SY.tokens.${token('relay', relay)}.${token('request id', requestId)}`,
  /** Every inbox of one relaying process: one subscription serves all its requests. */
  relayInboxes: (relay: string) => `_SY.tokens.${token('relay', relay)}.*`,
  /** Core NATS: `TokenChunks` for every request one relaying process serves, a step's worth at a time. */
  relayChunks: (relay: string) => `_SY.relay.${token('relay', relay)}`,
} as const;

/** Wildcards that consumers filter on. */
export const filters = {
  allAdmitted: 'requests.admitted.>',
  allDispatch: 'dispatch.>',
  poolBatches: (pool: string) => subjects.batches(pool),
  /** Every worker's own batches in a pool (`batches.<pool>.<worker>`). */
  workerBatches: (pool: string) => `${subjects.batches(pool)}.*`,
  allUsage: 'usage.recorded.>',
  allBillingUsage: 'billing.usage.>',
  allBillingBudget: 'billing.budget.>',
  allPolicyDecisions: 'decisions.policy.>',
  allRouteDecisions: 'decisions.routes.>',
  /** Every decision: admission, policy, scheduler and routes. */
  allDecisions: 'decisions.>',
  allSchedulerDecisions: 'decisions.scheduler.>',
  /** Core NATS view of every terminal event (`requests.<outcome>.<tenant>`). */
  allTerminals: 'requests.*.*',
  /** Every tenant's terminal events of one outcome (`requests.<outcome>.>`). */
  allOfOutcome: (outcome: OutcomeName) => `requests.${outcome}.>`,
  allLifecycle: OUTCOMES.map((o) => `requests.${o}.>`),
  allCancels: '_SY.cancel.*',
  allKvEvents: 'kv.events.>',
  allAudit: 'audit.>',
  auditOf: (action: AuditAction) => `audit.${action}.>`,
} as const;
