import {
  consumeDurable,
  createMicroBatch,
  followEvents,
  publishEvent,
  type JetStreamClient,
  type NatsConnection,
  type RunningConsumer,
  type Subscription,
} from '@switchyard/bus';
import { DomainError, expectPayload, filters, makeEvent, outcomeName, streams, subjects, tierLabel, type Event } from '@switchyard/contracts';
import { endSpan, SpanKind, startSpan, traceparentOf, type Logger, type Registry } from '@switchyard/telemetry';
import { isRowRefusal, retryConflicts } from '@switchyard/db';
import type { Sql } from 'postgres';
import { migrate } from './migrate.js';
import { meteredUsage, toBillableFromMetered, type MeteredUsage } from './domain/rollup.js';
import { createServiceMetrics } from './service-metrics.js';
import { recordUsage } from './usage-store.js';

export interface MeteringDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly sql: Sql;
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly now?: () => number;
  /** Usage events per database transaction at most. Default 1000. */
  readonly maxBatch?: number;
  /** Also follow admissions, outcomes and policy decisions for the service metrics. Default true. */
  readonly serviceMetrics?: boolean;
}

/**
 * Meters usage exactly once: each usage id is recorded once, with its per-minute rollups,
 * in one transaction; then the billable usage is published on `billing.usage.<tenant>`
 * with msgID = usage id, built from the first record, for a redelivery and a replay alike.
 * The message is acked only after that publish, so a crash anywhere re-runs the lot and
 * the stored record and billing's UNIQUE usage id absorb the repeat.
 */
/** A usage record on its way to the database, with the trace its billable usage goes on in. */
interface TracedUsage {
  readonly metered: MeteredUsage;
  readonly traceparent: string;
}

export function createMetering(deps: MeteringDeps) {
  const now = deps.now ?? Date.now;
  const metrics = createServiceMetrics(deps.registry);
  const consumers: RunningConsumer[] = [];

  const batch = createMicroBatch<TracedUsage, void>({
    maxBatch: deps.maxBatch ?? 1000,
    maxParallel: 3,
    // Nobody waits on a metering record: gather a few ms of usage per transaction even at moderate load.
    lingerMs: 20,
    // A record the database refuses fails alone, not with the usage that shared its transaction.
    splitOnFailure: isRowRefusal,
    flush: async (items) => {
      const { fresh, stored } = await retryConflicts(() =>
        recordUsage(
          deps.sql,
          items.map((i) => i.metered),
        ),
      );
      const traces = new Map(items.map((i) => [i.metered.usageId, i.traceparent]));
      for (const id of fresh) metrics.metered(stored.get(id)!);
      metrics.duplicate(items.length - fresh.size);
      await Promise.all(
        [...stored.values()].map((m) =>
          publishEvent(
            deps.js,
            subjects.billingUsage(m.tenant),
            makeEvent(
              { id: m.usageId, tenant: m.tenant, requestId: m.requestId, nowMs: now(), traceparent: traces.get(m.usageId) },
              { $case: 'billableUsage', billableUsage: toBillableFromMetered(m) },
            ),
          ),
        ),
      );
      return items.map(() => undefined);
    },
  });

  /** Metrics durables of earlier versions; plain subscriptions replaced them. */
  const LEGACY_DURABLES = [
    [streams.REQUESTS.name, 'metering-admitted'],
    [streams.LIFECYCLE.name, 'metering-lifecycle'],
    [streams.DECISIONS.name, 'metering-decisions'],
  ] as const;
  const subscriptions: Subscription[] = [];

  // Counters start from now and live in memory, so they follow the subjects directly: a
  // durable's delivery and ack per event would double the messages for nothing. Replicas
  // form one queue group, so each event is counted once across them.
  const followForMetrics = async () => {
    const jsm = await deps.js.jetstreamManager();
    for (const [stream, durable] of LEGACY_DURABLES) await jsm.consumers.delete(stream, durable).catch(() => false);
    const onUndecodable = (e: unknown, subject: string) => deps.logger.warn({ err: e, subject }, 'undecodable event not counted');
    const follow = (subject: string, onEvent: (event: Event) => void) =>
      subscriptions.push(followEvents(deps.nc, subject, onEvent, { queue: 'metering-metrics', onUndecodable }));
    follow(filters.allAdmitted, (event) => {
      const spec = event.payload?.$case === 'requestAdmitted' ? event.payload.requestAdmitted.request : undefined;
      if (!spec) return;
      metrics.admitted(tierLabel(spec.tier));
    });
    follow(filters.allTerminals, (event) => {
      if (event.payload?.$case !== 'requestTerminated') return;
      // The event names its tier, so any replica counts it right, whoever saw the admission.
      const t = event.payload.requestTerminated;
      metrics.terminated(tierLabel(t.tier), outcomeName(t.outcome));
    });
    follow(filters.allPolicyDecisions, (event) => {
      if (event.payload?.$case === 'decision') metrics.policyCheck(event.payload.decision.action);
    });
  };

  return {
    async start() {
      const applied = await migrate(deps.sql);
      if (applied.length) deps.logger.info({ applied }, 'metering tables migrated');
      consumers.push(
        await consumeDurable({
          js: deps.js,
          stream: streams.USAGE.name,
          durable: 'metering',
          concurrency: 2048,
          maxAckPending: 8192,
          ackWaitMs: 10_000,
          // Usage is money: ride out a database or bus outage instead of dead-lettering it.
          maxDeliver: 60,
          backoffMs: [200, 1_000, 5_000, 10_000],
          onError: (e, context) => deps.logger.error({ err: e }, context),
          handle: async ({ event }) => {
            const usage = expectPayload(event, 'usageRecorded').usageRecorded;
            if (!usage.usageId || !usage.tenant) {
              throw new DomainError('INVALID_ARGUMENT', `usage event ${event.envelope?.id ?? '?'} has no usage id or tenant`, { retryable: false });
            }
            const parent = event.envelope?.traceparent;
            const span = startSpan('metering.record', parent, { kind: SpanKind.CONSUMER });
            if (span.isRecording()) {
              span.setAttributes({
                'switchyard.tenant': usage.tenant,
                'switchyard.request_id': usage.requestId,
                'switchyard.usage_id': usage.usageId,
                'switchyard.model': usage.model,
                'switchyard.pool': usage.pool,
                'switchyard.tier': tierLabel(usage.tier),
              });
            }
            try {
              const metered = meteredUsage(usage, event.envelope?.timeUnixMs || now());
              await batch.submit({ metered, traceparent: traceparentOf(span) ?? parent ?? '' }).catch((e: unknown) => {
                // Refused for what it holds, it would be refused on every delivery: park it for an operator, with why.
                if (!isRowRefusal(e)) throw e;
                throw new DomainError('FAILED_PRECONDITION', `the database refuses usage ${usage.usageId}: ${(e as Error).message}`, {
                  cause: e,
                  retryable: false,
                });
              });
              endSpan(span);
            } catch (e) {
              endSpan(span, e);
              throw e;
            }
          },
        }),
      );
      if (deps.serviceMetrics ?? true) await followForMetrics();
    },
    async stop() {
      for (const s of subscriptions) s.unsubscribe();
      await Promise.all(consumers.map((c) => c.stop()));
      await batch.drain();
    },
  };
}

export type Metering = ReturnType<typeof createMetering>;
