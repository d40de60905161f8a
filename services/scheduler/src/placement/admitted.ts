import {
  publishDecision,
  publishEvent,
  publishTerminal,
  terminalOf,
  type Delivery,
  type Disposition,
  type JetStreamClient,
  type NatsConnection,
} from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { endSpan, SpanKind, startSpan, traceparentOf, type Span } from '@switchyard/telemetry';
import { DomainError, Outcome, expectPayload, makeEvent, subjects, tierName, type Candidate, type RequestSpec, type TierName } from '@switchyard/contracts';
import type { Route, SchedulingConfig } from '../config.js';
import type { SchedulerMetrics } from '../metrics.js';
import { placeRequest, type PlacementContext } from './domain/placement.js';
import { resolveModel } from './domain/routing.js';
import type { FailoverStage } from './failover.js';
import type { Fleet } from './fleet.js';
import type { PlacementRecords, RecordedRejection } from './records.js';

export interface AdmittedDeps {
  readonly js: JetStreamClient;
  /** Core NATS, for the decision events. */
  readonly nc: NatsConnection;
  readonly pools: readonly PoolSpec[];
  readonly config: SchedulingConfig;
  readonly fleet: Pick<Fleet, 'view' | 'dispatched'>;
  /** The routes' live view (model aliases to versions). */
  readonly routes: () => ReadonlyMap<string, Route>;
  readonly records: PlacementRecords;
  readonly metrics: SchedulerMetrics;
  /** How long a request may wait for a healthy pool before it is rejected. */
  readonly maxWaitMs: number;
  readonly now: () => number;
  readonly random: () => number;
}

/** The nak delay while no pool is healthy, and the age assumed per delivery of a request without an admission time. */
const WAIT_STEP_MS = 250;

/**
 * The bus edge of placement: `handle` takes one admitted request (decode, resolve its model,
 * place it) and answers with a dispatch, a rejection or a nak to wait; `replace` places a
 * request found on a dead pool somewhere else. Every decision is published with its reasons.
 */
export function createAdmittedEdge(deps: AdmittedDeps) {
  const { config, metrics, now, records } = deps;
  const poolsById = new Map(deps.pools.map((p) => [p.id, p]));
  const turns = new Map<string, number>();
  const moved: Record<FailoverStage, number> = { queued: 0, batched: 0, upstream: 0 };
  const ctx: PlacementContext = {
    config,
    policy: config.policy,
    random: deps.random,
    turn: (key) => {
      const n = turns.get(key) ?? 0;
      turns.set(key, n + 1);
      return n;
    },
  };

  /** `worker`: the pool's worker expected to hold the prompt's prefix ('' for any), saving `workerHitTokens` of prefill. */
  const dispatch = async (spec: RequestSpec, pool: PoolSpec, id: string, nowMs: number, worker = '', workerHitTokens = 0) => {
    const tier = tierName(spec.tier) ?? 'batch';
    deps.fleet.dispatched(spec, pool.id, nowMs);
    metrics.placed.inc({ pool: pool.id, tier, policy: config.policy });
    await publishEvent(
      deps.js,
      subjects.dispatch(pool.id),
      makeEvent(
        { id, tenant: spec.tenant, requestId: spec.requestId, nowMs, traceparent: spec.traceparent },
        {
          $case: 'requestDispatched',
          requestDispatched: { request: { ...spec, model: pool.model }, pool: pool.id, worker, workerHitTokens },
        },
      ),
    );
  };

  const publishRejection = (request: RequestSpec, reason: string, retryAfterMs: number) =>
    publishTerminal(
      deps.js,
      // Never placed: no model version ran it, so `model` stays empty.
      terminalOf({
        requestId: request.requestId,
        tenant: request.tenant,
        outcome: Outcome.OUTCOME_REJECTED,
        reason,
        retryAfterMs,
        tier: request.tier,
        feature: request.feature,
      }),
      now(),
      request.traceparent,
    );

  const reject = async (request: RequestSpec, tier: TierName, reason: string, retryAfterMs: number, candidates: Candidate[], kind: string) => {
    const { tenant, requestId } = request;
    // Another delivery of this request may have rejected it first: repeat that, word for word.
    const earlier = await records.claimRejection(requestId, { reason, retryAfterMs });
    if (earlier) return repeatRejection(request, earlier);
    metrics.rejected.inc({ tier, kind });
    publishDecision(deps.nc, 'scheduler', tenant, requestId, { action: 'reject', reason, candidates }, now(), request.traceparent);
    await publishRejection(request, reason, retryAfterMs);
  };

  /** A rejection on record may have died before its publish; publishing it again is dropped by msgID if not. */
  const repeatRejection = async (request: RequestSpec, earlier: RecordedRejection) => {
    metrics.redecided.inc({ decision: 'rejected' });
    await publishRejection(request, earlier.reason, earlier.retryAfterMs);
  };

  /** One admitted request, as a `scheduler.place` span in its trace. */
  async function handle(delivery: Delivery): Promise<Disposition | void> {
    const admitted = expectPayload(delivery.event, 'requestAdmitted').requestAdmitted.request;
    if (!admitted) throw new DomainError('INVALID_ARGUMENT', 'admitted event without a request');
    const parent = admitted.traceparent || delivery.event.envelope?.traceparent;
    const span = startSpan('scheduler.place', parent, { kind: SpanKind.CONSUMER });
    const traceparent = traceparentOf(span);
    // What goes on carries this span's trace; tracing off, the request is handed on as it came.
    const request = traceparent ? { ...admitted, traceparent } : admitted;
    try {
      const disposition = await place(request, delivery.deliveryCount, span);
      endSpan(span);
      return disposition;
    } catch (e) {
      endSpan(span, e);
      throw e;
    }
  }

  async function place(request: RequestSpec, deliveryCount: number, span: Span): Promise<Disposition | void> {
    if (span.isRecording()) {
      span.setAttributes({
        'switchyard.tenant': request.tenant,
        'switchyard.request_id': request.requestId,
        'switchyard.tier': tierName(request.tier) ?? '',
        'switchyard.model': request.model,
        'messaging.delivery_count': deliveryCount,
      });
    }
    const tier = tierName(request.tier);
    if (!tier) throw new DomainError('INVALID_ARGUMENT', `request ${request.requestId} has no tier`);
    const { tenant, requestId, promptTokens, maxTokens } = request;
    const redelivered = deliveryCount > 1;
    if (redelivered) {
      const earlier = await records.rejection(requestId);
      if (earlier) return repeatRejection(request, earlier);
    }
    const nowMs = now();
    const ageMs = request.admittedUnixMs > 0 ? Math.max(0, nowMs - request.admittedUnixMs) : 0;
    const route = resolveModel(request.model, { promptTokens, maxTokens, tier }, deps.routes(), deps.random());
    if (route.kind === 'unknown') return reject(request, tier, route.reason, 0, [], 'unknown-model');
    const prefix = request.prefixBlockTokens > 0 ? { hashes: request.prefixHashes, blockTokens: request.prefixBlockTokens } : undefined;
    let placement = placeRequest({ tenant, tier, version: route.version, promptTokens, maxTokens, ageMs, prefix }, deps.fleet.view(), ctx);
    if (redelivered && placement.kind === 'reject' && placement.retryAfterMs > 0) {
      // An earlier delivery may have dispatched it (dispatches leave no record): shedding could
      // contradict that, while a second dispatch is dropped by its msgID.
      placement = placeRequest({ tenant, tier, version: route.version, promptTokens, maxTokens, ageMs, prefix, mustPlace: true }, deps.fleet.view(), ctx);
    }
    if (placement.kind === 'wait') {
      const waited = request.admittedUnixMs > 0 ? ageMs : deliveryCount * WAIT_STEP_MS;
      if (placement.waitFor === 'capacity' || waited < deps.maxWaitMs) {
        metrics.deferred.inc({ tier });
        return { kind: 'nak', delayMs: placement.waitFor === 'health' ? WAIT_STEP_MS : placement.retryAfterMs };
      }
      return reject(request, tier, placement.reason, 1_000, placement.candidates, 'no-healthy-pool');
    }
    if (placement.kind === 'reject') {
      return reject(request, tier, placement.reason, placement.retryAfterMs, placement.candidates, placement.retryAfterMs > 0 ? 'shed' : 'no-pool');
    }
    if (placement.prediction) metrics.predictedTtft.observe({ tier }, placement.prediction.ttftMs / 1000);
    const reason = route.via.length ? `${route.reason}; ${placement.reason}` : placement.reason;
    if (span.isRecording()) span.setAttribute('switchyard.pool', placement.pool);
    await dispatch(request, poolsById.get(placement.pool)!, `dispatch-${requestId}`, nowMs, placement.worker, placement.hitTokens);
    publishDecision(
      deps.nc,
      'scheduler',
      tenant,
      requestId,
      { action: 'place', reason, chosen: placement.pool, candidates: placement.candidates },
      nowMs,
      request.traceparent,
    );
  }

  /**
   * Failover: places a request that pool `from` cannot finish somewhere else (`why` says what
   * happened to it there; default: the pool stopped heartbeating).
   */
  async function replace(spec: RequestSpec, from: string, stage: FailoverStage, dispatchId: string, why?: string): Promise<string | undefined> {
    const tier = tierName(spec.tier) ?? 'batch';
    const nowMs = now();
    const ageMs = spec.admittedUnixMs > 0 ? Math.max(0, nowMs - spec.admittedUnixMs) : 0;
    const placement = placeRequest(
      { tenant: spec.tenant, tier, version: '', anyVersionOf: spec.model, promptTokens: spec.promptTokens, maxTokens: spec.maxTokens, ageMs, mustPlace: true },
      deps.fleet.view(new Set([from])),
      ctx,
    );
    if (placement.kind !== 'placed') return undefined;
    await dispatch(spec, poolsById.get(placement.pool)!, dispatchId, nowMs);
    publishDecision(
      deps.nc,
      'scheduler',
      spec.tenant,
      spec.requestId,
      {
        action: 'failover',
        reason: `${why ?? `pool ${from} stopped heartbeating (request ${stage})`}; ${placement.reason}`,
        chosen: placement.pool,
        candidates: placement.candidates,
      },
      nowMs,
    );
    metrics.failover.inc({ from, to: placement.pool, stage });
    moved[stage]++;
    return placement.pool;
  }

  return {
    handle,
    replace,
    /** Requests moved off dead pools, by where they were found. */
    failoverCounts: (): Readonly<Record<FailoverStage, number>> => ({ ...moved }),
  };
}

export type AdmittedEdge = ReturnType<typeof createAdmittedEdge>;
