/**
 * Every key Switchyard writes into a KV bucket (DESIGN.md §3) is built and parsed here, so a
 * writer and its readers in other services cannot drift apart. Worker heartbeats in `pools`
 * use {@link heartbeatKey} from `heartbeat.ts`.
 */

const ROUTE = 'route.';
const DRAIN = 'drain.';
const MODEL = 'model.';
const CLAIM = 'req.';
const BATCH = 'batch.';

/** The part of `key` after `prefix`, or undefined when `key` does not start with it. */
const after = (prefix: string, key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : undefined);

/**
 * The `routes` bucket (owner: scheduler): `route.<alias>` holds a model alias's route (JSON),
 * `drain.<pool>` is present while an operator has drained the pool (JSON `{reason, atUnixMs}`),
 * `model.<version>` names a model version some configured pool serves (JSON
 * `{firstServedUnixMs}`, written once), so admission knows every name a caller may send.
 */
export const routesKeys = {
  route: (alias: string) => `${ROUTE}${alias}`,
  drain: (pool: string) => `${DRAIN}${pool}`,
  model: (version: string) => `${MODEL}${version}`,
  /** Filters for `kv.keys()` / `kv.watch()`. */
  allRoutes: `${ROUTE}>`,
  allDrains: `${DRAIN}>`,
  allModels: `${MODEL}>`,
  /** The alias a route key names, or undefined for another key. */
  aliasOf: (key: string) => after(ROUTE, key),
  /** The pool a drain key names, or undefined for another key. */
  drainedPoolOf: (key: string) => after(DRAIN, key),
  /** The model version a model key names, or undefined for another key. */
  modelOf: (key: string) => after(MODEL, key),
} as const;

/**
 * The `batching` bucket (owner: batcher): the exactly-once hand-off from DISPATCH to BATCHES.
 * `req.<request id>` is a request's claim, whose value is the id of the batch that holds it;
 * `batch.<batch id>` is a stored batch of several requests (an encoded `batchFormed` event).
 * The scheduler's failover deletes a claim (compare-and-set on its revision) when it moves
 * the request off a dead pool, so another pool's batcher can claim it.
 */
export const batchingKeys = {
  claim: (requestId: string) => `${CLAIM}${requestId}`,
  batch: (batchId: string) => `${BATCH}${batchId}`,
} as const;
