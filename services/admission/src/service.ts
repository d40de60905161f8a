import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { splitHostPort } from '@switchyard/config';
import type { Redis } from 'ioredis';
import type { Keyring, TenantSettings, TierLimits } from '@switchyard/auth';
import {
  consumeDurable,
  followConnectionHealth,
  openBucket,
  type ConnectionHealth,
  type KV,
  type JetStreamClient,
  type NatsConnection,
  type RunningConsumer,
} from '@switchyard/bus';
import { AdmissionServiceService, buckets, DEFAULT_TENANT_IN_FLIGHT, streams, type TierName } from '@switchyard/contracts';
import { serve, type Served, type TlsFiles } from '@switchyard/grpc-edge';
import type { PolicySet } from '@switchyard/policy-rules';
import type { Logger, Registry } from '@switchyard/telemetry';
import { DEFAULT_PREFIX_BLOCK_TOKENS, encodePrompt } from '@switchyard/tokenizer';
import { createPromptPrefixer } from './prompt-prefix.js';
import { createBudgetLedger } from './budget-ledger.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-limits.js';
import { followBudgetStates, type BudgetStates } from './budget-states.js';
import { budgetPlan } from './domain/budget-plan.js';
import type { GenerationDeps } from './generation.js';
import { admissionHandlers } from './grpc.js';
import { createHttpFacade } from './http.js';
import { createIdempotency } from './idempotency.js';
import { createAdmissionMetrics } from './metrics.js';
import { createInFlightGate } from './domain/in-flight-gate.js';
import type { PolicyClient } from './policy-client.js';
import { createRateLimiter } from './rate-limiter.js';
import { followPriceBooks, type PriceBooks } from './price-books.js';
import { followModelCatalog, type ModelCatalogFeed } from './model-catalog.js';
import { createRequestStore } from './request-store.js';
import { createSettlement } from './settlement.js';
import { createTokenRelayHub, type TokenRelayHub } from './token-relay.js';
import { watchTerminals, type TerminalWatch } from './terminal-watch.js';
import type { GenerationLimits } from './domain/validate.js';

export interface AdmissionDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly redis: Redis;
  readonly keyring: Keyring;
  readonly policy: PolicyClient;
  readonly logger: Logger;
  readonly limits: GenerationLimits;
  /** Tokens per prompt block of the prefix identity requests carry (0: none). Default `DEFAULT_PREFIX_BLOCK_TOKENS`, 64. */
  readonly prefixBlockTokens?: number;
  /** `host:port` to serve gRPC on; port 0 picks a free one. */
  readonly listen: string;
  /** `host:port` for the OpenAI-compatible HTTP facade; omitted means no facade. */
  readonly httpListen?: string;
  /** TLS certificate and key for the gRPC and HTTP listeners (reloaded on change). Default plaintext. */
  readonly tls?: TlsFiles;
  /** The batch service's HTTP API, which the facade forwards `/v1/files` and `/v1/batches` to; omitted turns them off. */
  readonly batchApiUrl?: string;
  /** Tenant rate limits (the `tenants` KV bucket); none means defaults only. Budgets are billing's. */
  readonly tenantSettings?: (tenant: string) => TenantSettings | undefined;
  /** Rate limits for tenants without their own. Default: 120k requests and 100M tokens per minute per tier. */
  readonly defaultLimits?: Readonly<Record<TierName, TierLimits>>;
  /** The scheduler's `routes` bucket (served models and routes), for the model catalog; opened from `nc` when absent. */
  readonly routesKv?: KV;
  /** Billing's price-book versions (the `pricebook` bucket); opened from `nc` when absent. */
  readonly pricebookKv?: KV;
  /** How long after a settlement billing's published spend is taken to include it. Default 10 s (`PROVISIONAL_GRACE_MS`). */
  readonly provisionalGraceMs?: number;
  /**
   * Calls one tenant may have running at once in this process, per tier; more wait in line
   * here. Default {@link DEFAULT_TENANT_IN_FLIGHT}.
   */
  readonly inFlightPerTenant?: Partial<Record<TierName, number>>;
  /** Tenant policies (the `policies` bucket), for output checks; none leaves output unchecked. */
  readonly outputPolicy?: (tenant: string) => PolicySet | undefined;
  /** How long idle connections, unfinished requests and unread streams may hold memory. Default {@link DEFAULT_CONNECTION_LIMITS}. */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /** Where request metrics go (`switchyard_admission_*`); none records none. */
  readonly registry?: Registry;
  readonly now?: () => number;
}

export interface AdmissionAddresses {
  /** Bound gRPC `host:port`. */
  readonly grpc: string;
  /** Base URL of the OpenAI-compatible facade (`http://host:port/v1`), when it runs. */
  readonly http?: string;
}

export interface Admission {
  start(): Promise<AdmissionAddresses>;
  /** Stops taking calls, lets in-flight streams finish (up to `graceMs`), then stops consumers. */
  stop(graceMs?: number): Promise<void>;
  /** What the HTTP facade shares with gRPC; set once `start` resolved. */
  readonly generation: GenerationDeps | undefined;
  /**
   * What admission counts against a tenant's (or its feature's) budget this month: the
   * ledger's spend plus what it settled that billing has not published yet, and what is in
   * flight. Undefined when billing publishes no such budget.
   */
  budgetSpend(tenant: string, feature?: string): Promise<{ spentMicros: number; reservedMicros: number } | undefined>;
}

const GENEROUS: TierLimits = { requestsPerMinute: 120_000, tokensPerMinute: 100_000_000 };

/**
 * Explicit transport limits: a hostile client cannot make the process buffer much, nor hold
 * a connection it does not use (grpc-js keeps an idle one forever unless told).
 */
const serverOptions = (limits: ConnectionLimits) => ({
  'grpc.max_receive_message_length': 1 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 1000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_connection_idle_ms': limits.grpcIdleMs,
  'grpc.max_connection_age_ms': 30 * 60_000,
  'grpc.max_connection_age_grace_ms': 60_000,
});

export function createAdmission(deps: AdmissionDeps): Admission {
  const now = deps.now ?? Date.now;
  const store = createRequestStore(deps.redis);
  const budgets = createBudgetLedger(deps.redis, { now, provisionalGraceMs: deps.provisionalGraceMs });
  const tenantSettings = deps.tenantSettings ?? (() => undefined);
  const metrics = deps.registry && createAdmissionMetrics(deps.registry);
  const connectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...deps.connectionLimits };
  let terminals: TerminalWatch | undefined;
  let lifecycle: RunningConsumer | undefined;
  let generation: GenerationDeps | undefined;
  let http: FastifyInstance | undefined;
  let relays: TokenRelayHub | undefined;
  let bus: ConnectionHealth | undefined;
  let served: Served | undefined;
  let budgetStates: BudgetStates | undefined;
  let priceBooks: PriceBooks | undefined;
  let models: ModelCatalogFeed | undefined;

  return {
    get generation() {
      return generation;
    },
    async budgetSpend(tenant, feature = '') {
      const plan = budgetPlan(budgetStates?.stateOf(tenant), tenant, feature, now());
      const spec = plan.specs.find((s) => s.feature === feature);
      if (!spec) return undefined;
      const { spentMicros, reservedMicros } = await budgets.committed(spec);
      return { spentMicros, reservedMicros };
    },
    async start() {
      // Independent reads of the bus, in parallel: a restarted replica serves sooner.
      [terminals, budgetStates, priceBooks, models] = await Promise.all([
        watchTerminals(deps.js, deps.nc, (e) => deps.logger.warn({ err: e }, 'bad lifecycle event')),
        followBudgetStates(deps.js, deps.nc, (e) => deps.logger.warn({ err: e }, 'undecodable budget state ignored')),
        (async () =>
          followPriceBooks(deps.pricebookKv ?? (await openBucket(deps.nc, buckets.pricebook)), (version, e) =>
            deps.logger.error({ version, err: e }, 'price-book version in the pricebook bucket ignored'),
          ))(),
        (async () =>
          followModelCatalog(deps.routesKv ?? (await openBucket(deps.nc, buckets.routes)), (key, e) =>
            deps.logger.error({ key, err: e }, 'entry of the routes bucket left out of the model catalog'),
          ))(),
      ]);
      const catalog = models.catalog;
      const { stateOf: budgetState } = budgetStates;
      const { bookAt: priceBookAt } = priceBooks;
      const settle = createSettlement({ store, budgets, budgetState, priceBookAt, now });
      // One durable shared by all replicas: request state and budget settlement happen once
      // per terminal event, whoever admitted the request.
      lifecycle = await consumeDurable({
        js: deps.js,
        stream: streams.LIFECYCLE.name,
        durable: 'admission',
        concurrency: 16,
        // Settlement needs Redis: through a Redis outage (each try waits its 1 s retry hint) a
        // terminal event is tried again for hours, never dead-lettered after a few seconds.
        maxDeliver: 10_000,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: ({ event }) => settle(event),
      });
      // Load balancers should stop sending calls that could only fail: SERVING only while the bus is up.
      bus = followConnectionHealth(deps.nc, (connected) => served?.setServing(connected));
      const connection = bus;
      relays = createTokenRelayHub(deps.nc, `adm${randomBytes(4).toString('hex')}`, (e) =>
        deps.logger.error({ err: e }, 'token relay: a chunk could not be handed on'),
      );
      generation = {
        nc: deps.nc,
        relays,
        js: deps.js,
        policy: deps.policy,
        store,
        terminals,
        budgets,
        limiter: createRateLimiter(deps.redis, now),
        idempotency: createIdempotency(deps.redis),
        tenantSettings,
        defaultLimits: deps.defaultLimits ?? { realtime: GENEROUS, internal: GENEROUS, batch: GENEROUS },
        budgetState,
        priceBookAt,
        outputPolicy: deps.outputPolicy,
        promptPrefix: createPromptPrefixer(deps.prefixBlockTokens ?? DEFAULT_PREFIX_BLOCK_TOKENS),
        busConnected: () => connection.connected,
        inFlight: { gate: createInFlightGate(), limit: (tier) => deps.inFlightPerTenant?.[tier] ?? DEFAULT_TENANT_IN_FLIGHT[tier] },
        logger: deps.logger,
        metrics,
        now,
      };
      served = await serve({
        listen: deps.listen,
        serverOptions: serverOptions(connectionLimits),
        services: [
          {
            definition: AdmissionServiceService,
            handlers: admissionHandlers({
              ...generation,
              keyring: deps.keyring,
              limits: deps.limits,
              encodePrompt,
              models: catalog,
              stalledStreamMs: connectionLimits.stalledStreamMs,
            }),
          },
        ],
        serving: bus.connected,
        tls: deps.tls,
      });
      const grpc = served.address;
      if (!deps.httpListen) return { grpc };
      http = createHttpFacade({
        generation,
        keyring: deps.keyring,
        limits: deps.limits,
        encodePrompt,
        logger: deps.logger,
        models: catalog,
        batchApi: deps.batchApiUrl ? new URL(deps.batchApiUrl) : undefined,
        tls: deps.tls,
        connectionLimits,
      });
      const url = await http.listen(splitHostPort(deps.httpListen));
      return { grpc, http: `${url}/v1` };
    },

    async stop(graceMs = 10_000) {
      bus?.stop();
      await served?.stop(graceMs);
      await http?.close();
      await lifecycle?.stop();
      await terminals?.stop();
      relays?.stop();
      await budgetStates?.stop();
      await priceBooks?.stop();
      await models?.stop();
      deps.policy.close();
    },
  };
}
