import type { Keyring } from '@switchyard/auth';
import { consumeDurable, createAuditPublisher, createMicroBatch, type JetStreamClient, type KV, type RunningConsumer } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { BillingServiceService, DomainError, expectPayload, filters, isDomainError, streams, type BillableUsage } from '@switchyard/contracts';
import { isRowRefusal } from '@switchyard/db';
import { serve, type Served, type TlsFiles } from '@switchyard/grpc-edge';
import { DEFAULT_PRICE_BOOK, type PriceBook, type PriceCatalog } from '@switchyard/pricing';
import { Counter, endSpan, Gauge, Histogram, SpanKind, startSpan, type Logger, type Registry } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { createBudgetPublisher } from './budget-publisher.js';
import { billingHandlers } from './grpc.js';
import { createLedgerPoster, type PostingOutcome } from './ledger-posting.js';
import { migrate } from './migrate.js';
import { poolCostsOf, preparePosting, type UsagePosting } from './domain/posting.js';
import { createFleetAccrual } from './fleet.js';
import { createCatalogCache, seedCatalog } from './price-versions.js';
import { reconcileLedger } from './reconcile-job.js';
import { accrueReservationFees, createReservationCache, type ReservationCache } from './reservations.js';

export interface BillingDeps {
  /** Whether a tenant exists; budget, credit and reservation writes for any other are refused. Default: any does. */
  readonly tenantExists?: (tenant: string) => boolean;
  readonly js: JetStreamClient;
  readonly sql: Sql;
  readonly keyring: Keyring;
  readonly logger: Logger;
  /** `host:port` for the gRPC API; port 0 picks a free one. */
  readonly listen: string;
  /** TLS certificate and key for the gRPC API (reloaded on change). Default plaintext. */
  readonly tls?: TlsFiles;
  /** Price-book versions written to the database unless there; default the one book below. */
  readonly priceCatalog?: PriceCatalog;
  /** Shorthand for a one-version catalog. Default DEFAULT_PRICE_BOOK. */
  readonly priceBook?: PriceBook;
  /** Pools, for GPU cost and capacity class; usage on an unknown pool accrues no GPU cost. */
  readonly pools?: readonly PoolSpec[];
  readonly registry?: Registry;
  /** KV bucket `pricebook`: every version is put there (key = version, JSON) for admission to price reservations. */
  readonly pricebookKv?: KV;
  readonly now?: () => number;
  /** Usage events in one ledger transaction at most. Default 1000. */
  readonly maxBatch?: number;
  /** Ledger transactions in flight at once; the Postgres pool needs as many connections. Default 3. */
  readonly maxParallelBatches?: number;
  /** Usage messages handled at once in this process; the larger, the fuller the batches. Default 2048. */
  readonly consumerConcurrency?: number;
  /** How often the reconciliation job checks the last two whole hours; 0 turns it off. Default 10 min. */
  readonly reconcileEveryMs?: number;
  /** How soon budget state follows spend. Default 200 ms. */
  readonly budgetFlushMs?: number;
  /** How long after a tenant's spend last changed its budget state is published once more. Default 15 s. */
  readonly budgetQuietRepublishMs?: number;
  /** KV bucket `pools` (worker heartbeats): the provisioned fleet whose idle GPU time is accrued. Without it none is. */
  readonly poolsKv?: KV;
  /** How often the live workers are sampled. Default 10 s. */
  readonly fleetSampleMs?: number;
  /** How often reservation fees of elapsed hours and the idle GPU time of closed hours are charged. Default 60 s. */
  readonly accrueEveryMs?: number;
  /** How often reservations made on other replicas are reloaded. Default 2 s. */
  readonly reservationRefreshMs?: number;
}

/** Integrity and data errors: the batch holds a posting the database refuses, retrying it whole will not help. */
const HOUR = 3_600_000;

/**
 * Migrates the ledger, posts billable usage exactly once in batches, publishes budget
 * state, reconciles the last hours periodically, and serves tenant-scoped reads.
 */
export function createBilling(deps: BillingDeps) {
  const now = deps.now ?? Date.now;
  const poolCosts = poolCostsOf(deps.pools ?? []);
  const ledger = createLedgerPoster(deps.sql);
  const fleet = createFleetAccrual({
    sql: deps.sql,
    poolsKv: deps.poolsKv,
    pools: poolCosts,
    logger: deps.logger,
    now,
    sampleEveryMs: deps.fleetSampleMs,
  });
  const budgets = createBudgetPublisher({
    sql: deps.sql,
    js: deps.js,
    logger: deps.logger,
    now,
    flushMs: deps.budgetFlushMs,
    quietRepublishMs: deps.budgetQuietRepublishMs,
  });
  const registry = deps.registry ? [deps.registry] : [];
  const postedTotal = new Counter({
    name: 'switchyard_billing_usage_total',
    help: 'Usage events by what the ledger did with them',
    labelNames: ['outcome'],
    registers: registry,
  });
  const batchSize = new Histogram({
    name: 'switchyard_billing_batch_size',
    help: 'Usage events per ledger transaction',
    buckets: [1, 10, 50, 100, 250, 500, 1000],
    registers: registry,
  });
  const reconcileGauge = new Gauge({
    name: 'switchyard_billing_reconciliation_differences',
    help: 'Differences the last reconciliation found, by kind',
    labelNames: ['kind'],
    registers: registry,
  });
  // What the ledger posted, as counters: revenue and cost per 1K tokens are ratios of these.
  const revenue = new Counter({
    name: 'switchyard_billing_revenue_micros_total',
    help: 'Charges posted to tenants, in micro-dollars',
    labelNames: ['tier'],
    registers: registry,
  });
  const cost = new Counter({
    name: 'switchyard_billing_cost_micros_total',
    help: 'What serving the posted usage cost the platform (GPU time or provider tokens), in micro-dollars',
    labelNames: ['pool'],
    registers: registry,
  });
  const billedTokens = new Counter({
    name: 'switchyard_billing_tokens_total',
    help: 'Tokens of posted usage (prompt + completion)',
    labelNames: ['tier', 'pool'],
    registers: registry,
  });
  let consumer: RunningConsumer | undefined;
  let reconcileTimer: NodeJS.Timeout | undefined;
  let catalog: Awaited<ReturnType<typeof createCatalogCache>> | undefined;
  let served: Served | undefined;
  let reservations: ReservationCache | undefined;
  let accrueTimer: NodeJS.Timeout | undefined;

  const postBatch = async (items: readonly UsagePosting[]): Promise<PostingOutcome[]> => {
    const r = await ledger.post(items);
    budgets.touched(r.spend);
    batchSize.observe(items.length);
    r.outcomes.forEach((o, i) => {
      postedTotal.inc({ outcome: o });
      if (o !== 'posted') return;
      const p = items[i]!;
      revenue.inc({ tier: p.tier }, p.amountMicros);
      if (p.usage.pool) cost.inc({ pool: p.usage.pool }, p.gpuCostMicros);
      billedTokens.inc({ tier: p.tier, pool: p.usage.pool }, (p.usage.usage?.inputTokens ?? 0) + (p.usage.usage?.outputTokens ?? 0));
    });
    return r.outcomes;
  };

  const poster = createMicroBatch<UsagePosting, PostingOutcome>({
    maxBatch: deps.maxBatch ?? 1000,
    maxParallel: deps.maxParallelBatches ?? 3,
    // Nobody waits on a posting (budgets are published ~200 ms after a change): gather a few ms per transaction.
    lingerMs: 20,
    // One posting the database refuses must not hold back the rest: it fails alone.
    splitOnFailure: isRowRefusal,
    flush: postBatch,
  });

  const reconcile = async () => {
    const end = Math.floor((now() - 5 * 60_000) / HOUR) * HOUR;
    // The running totals are kept by the entries' trigger; summing every entry is left to the CLI.
    // Completed requests on LIFECYCLE are held against metered usage too: usage that waits
    // unmetered (a metering outage) shows up here, not only when a person runs reconcile.
    const report = await reconcileLedger(deps.sql, {
      startMs: end - 2 * HOUR,
      endMs: end,
      books: catalog!.byVersion(),
      everyEntry: false,
      lifecycle: { js: deps.js, nowMs: now() },
      nowMs: now(),
    });
    reconcileGauge.set({ kind: 'quantities' }, report.differences.length);
    reconcileGauge.set({ kind: 'unbalanced' }, report.unbalanced.length);
    reconcileGauge.set({ kind: 'amounts' }, report.amountMismatches.length + report.repriced.length);
    reconcileGauge.set({ kind: 'accounts' }, report.accounts.length + report.gpuCost.length);
    reconcileGauge.set({ kind: 'unmetered_completions' }, report.completions?.unmetered.length ?? 0);
    reconcileGauge.set({ kind: 'prepaid_overdrawn' }, report.overdrawnPrepaid?.length ?? 0);
    reconcileGauge.set({ kind: 'reservation_fees' }, report.reservationFees?.length ?? 0);
    reconcileGauge.set({ kind: 'idle_accruals' }, report.idleAccruals?.length ?? 0);
    if (!report.ok) deps.logger.error({ report }, 'reconciliation found differences');
    else deps.logger.info({ startMs: report.startMs, endMs: report.endMs, requests: report.ledger.requests }, 'reconciliation clean');
  };

  /** Charges reservation fees of elapsed hours and the idle GPU time of closed hours; idempotent, so replicas may all run it. */
  /** Accruals run one after another (a slow one never has a second racing it); `stop` waits for them. */
  let accruing: Promise<void> = Promise.resolve();
  let ticking = false;
  const accrueOnce = async () => {
    const nowMs = now();
    const fees = await accrueReservationFees(deps.sql, reservations!.all(), nowMs);
    if (fees) deps.logger.info({ hours: fees }, 'reservation fees charged');
    await fleet.accrue(nowMs);
  };
  const accrue = (): Promise<void> => {
    const run = accruing.then(accrueOnce);
    accruing = run.catch(() => {});
    return run;
  };

  return {
    /** Resolves with the bound `host:port`. */
    async start(): Promise<string> {
      const applied = await migrate(deps.sql);
      if (applied.length) deps.logger.info({ applied }, 'ledger migrated');
      await seedCatalog(deps.sql, deps.priceCatalog ?? [deps.priceBook ?? DEFAULT_PRICE_BOOK]);
      const kv = deps.pricebookKv;
      catalog = await createCatalogCache(deps.sql, {
        now,
        onError: (e) => deps.logger.warn({ err: e }, 'price book not reloaded'),
        onLoad: kv ? async (books) => void (await Promise.all(books.map((b) => kv.put(b.version, JSON.stringify(b))))) : undefined,
      });
      await budgets.start();
      const held = (reservations = await createReservationCache(deps.sql, {
        refreshMs: deps.reservationRefreshMs,
        onError: (e) => deps.logger.warn({ err: e }, 'reservations not reloaded'),
      }));
      await fleet.start();
      accrueTimer = setInterval(() => {
        // A tick while an accrual still runs is skipped, not queued: the next one covers it.
        if (ticking) return;
        ticking = true;
        void accrue()
          .catch((e) => deps.logger.error({ err: e }, 'reservation fees or idle GPU time not accrued'))
          .finally(() => (ticking = false));
      }, deps.accrueEveryMs ?? 60_000);
      accrueTimer.unref();
      const prices = catalog;
      /** Prices one usage event and writes it to the ledger (exactly once, by its usage id). */
      async function post(usage: BillableUsage): Promise<PostingOutcome> {
        const book = prices.current();
        let posting: UsagePosting;
        try {
          posting = preparePosting(usage, book, poolCosts, held.index());
        } catch (e) {
          // Unpriceable usage is parked on the dead-letter subject for an operator, not retried.
          throw new DomainError('FAILED_PRECONDITION', (e as Error).message, { cause: e, retryable: false });
        }
        const outcome = await poster.submit(posting).catch((e: unknown) => {
          if (!isRowRefusal(e)) throw e;
          throw new DomainError('FAILED_PRECONDITION', `the ledger refuses usage ${usage.usageId}: ${(e as Error).message}`, { cause: e, retryable: false });
        });
        if (outcome === 'duplicate') deps.logger.debug({ usageId: usage.usageId }, 'usage already posted');
        return outcome;
      }
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.BILLING.name,
        durable: 'billing',
        filterSubject: filters.allBillingUsage,
        concurrency: deps.consumerConcurrency ?? 2048,
        maxAckPending: 4 * (deps.consumerConcurrency ?? 2048),
        ackWaitMs: 10_000,
        // Money must survive a database outage of minutes, not be dead-lettered in seconds.
        maxDeliver: 60,
        backoffMs: [200, 1_000, 5_000, 10_000],
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event }) => {
          const usage = expectPayload(event, 'billableUsage').billableUsage;
          const span = startSpan('billing.post', event.envelope?.traceparent, { kind: SpanKind.CONSUMER });
          if (span.isRecording()) {
            span.setAttributes({
              'switchyard.tenant': usage.tenant,
              'switchyard.request_id': usage.requestId,
              'switchyard.usage_id': usage.usageId,
              'switchyard.model': usage.model,
              'switchyard.pool': usage.pool,
            });
          }
          try {
            const outcome = await post(usage);
            if (span.isRecording()) span.setAttribute('switchyard.posting', outcome);
            endSpan(span);
          } catch (e) {
            endSpan(span, e);
            throw e;
          }
        },
      });
      const every = deps.reconcileEveryMs ?? 10 * 60_000;
      if (every > 0) {
        reconcileTimer = setInterval(
          () => void reconcile().catch((e) => deps.logger.error({ err: isDomainError(e) ? e.message : e }, 'reconciliation failed to run')),
          every,
        );
        reconcileTimer.unref();
      }
      served = await serve({
        listen: deps.listen,
        tls: deps.tls,
        serverOptions: { 'grpc.max_receive_message_length': 64 * 1024 },
        services: [
          {
            definition: BillingServiceService,
            handlers: billingHandlers({
              sql: deps.sql,
              keyring: deps.keyring,
              logger: deps.logger,
              currency: 'USD',
              books: () => prices.byVersion(),
              budgets,
              now,
              catalog: () => prices.current(),
              reservable: new Map((deps.pools ?? []).map((p) => [p.id, { id: p.id, model: p.model, capacityClass: p.capacityClass }])),
              poolCosts,
              reservations: held,
              tenantExists: deps.tenantExists,
              audit: createAuditPublisher(deps.js, { recordedBy: 'billing', now }),
            }),
          },
        ],
      });
      return served.address;
    },
    /** Charges what is due now (reservation fees, idle GPU time) without waiting for the timer. */
    accrue,
    async stop() {
      if (reconcileTimer) clearInterval(reconcileTimer);
      if (accrueTimer) clearInterval(accrueTimer);
      await accruing;
      await fleet.stop();
      reservations?.stop();
      await served?.stop();
      await consumer?.stop();
      await poster.drain();
      await budgets.stop();
      catalog?.stop();
    },
  };
}

export type Billing = ReturnType<typeof createBilling>;
