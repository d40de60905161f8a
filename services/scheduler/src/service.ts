import { consumeDurable, publishDecision, watchHeartbeats, type HeartbeatWatch, publishEvent, publishTerminal, terminalOf, type JetStreamClient, type KV, type RunningConsumer } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { DomainError, Outcome, expectPayload, makeEvent, streams, subjects, tierName } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { placeRequest, poolStates } from './placement.js';

export interface SchedulerDeps {
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  readonly now?: () => number;
  /** A worker silent this long is out. Default 3 s. */
  readonly staleAfterMs?: number;
  /** How long a request may wait for a healthy pool before it is rejected. Default 5 s. */
  readonly maxWaitMs?: number;
}

const WAIT_STEP_MS = 250;

/** Consumes admitted requests and places each on a pool (DISPATCH), explaining why. */
export function createScheduler(deps: SchedulerDeps) {
  const now = deps.now ?? Date.now;
  const staleAfterMs = deps.staleAfterMs ?? 3_000;
  const maxWaits = Math.ceil((deps.maxWaitMs ?? 5_000) / WAIT_STEP_MS);
  let watch: HeartbeatWatch | undefined;
  let consumer: RunningConsumer | undefined;

  return {
    async start() {
      watch = await watchHeartbeats(deps.poolsKv);
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.REQUESTS.name,
        durable: 'scheduler',
        maxDeliver: maxWaits + 10,
        concurrency: 64,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event, deliveryCount }) => {
          const request = expectPayload(event, 'requestAdmitted').requestAdmitted.request;
          if (!request) throw new DomainError('INVALID_ARGUMENT', 'admitted event without a request');
          const tier = tierName(request.tier);
          if (!tier) throw new DomainError('INVALID_ARGUMENT', `request ${request.requestId} has no tier`);
          const { tenant, requestId } = request;
          const placement = placeRequest(request, tier, deps.pools, poolStates(watch!.heartbeats(), now(), staleAfterMs));

          if (placement.kind === 'wait' && deliveryCount < maxWaits) return { kind: 'nak', delayMs: WAIT_STEP_MS };
          if (placement.kind !== 'placed') {
            const retryAfterMs = placement.kind === 'wait' ? 1_000 : placement.retryAfterMs;
            await publishDecision(deps.js, 'scheduler', tenant, requestId, { action: 'reject', reason: placement.reason, candidates: placement.candidates }, now());
            await publishTerminal(deps.js, terminalOf({ requestId, tenant, outcome: Outcome.OUTCOME_REJECTED, reason: placement.reason, retryAfterMs }), now());
            return;
          }
          await publishEvent(
            deps.js,
            subjects.dispatch(placement.pool),
            makeEvent({ id: `dispatch-${requestId}`, tenant, requestId, nowMs: now() }, { $case: 'requestDispatched', requestDispatched: { request, pool: placement.pool } }),
          );
          await publishDecision(deps.js, 'scheduler', tenant, requestId, { action: 'place', reason: placement.reason, chosen: placement.pool, candidates: placement.candidates }, now());
        },
      });
    },
    async stop() {
      await consumer?.stop();
      await watch?.stop();
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
