import { publishTerminal, releaseClaim, terminalOf, type Delivery, type JetStreamClient, type KV } from '@switchyard/bus';
import { DomainError, Outcome, expectPayload, type RequestSpec } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { FailoverStage } from './failover.js';

export interface UpstreamReplacementDeps {
  readonly js: JetStreamClient;
  /** The batcher's hand-off claims: the failed pool's batch still holds the request until released. */
  readonly batchingKv: KV;
  /** Whether the request already reached its terminal outcome. */
  readonly hasEnded: (requestId: string) => boolean;
  readonly replace: (request: RequestSpec, from: string, stage: FailoverStage, dispatchId: string, why: string) => Promise<string | undefined>;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * Takes a worker's `replacementRequested`: its upstream failed before the request's first token,
 * so nothing reached the caller and the request may run on another pool, once. The claim of the
 * failed pool's batch is released first so the new pool's batcher can claim the request; the
 * dispatch id is fixed per request, so a redelivered event never dispatches twice. When no other
 * pool can take it, or its deadline passed, it ends with the upstream's reason.
 */
export function createUpstreamReplacement(deps: UpstreamReplacementDeps) {
  const end = (request: RequestSpec, from: string, outcome: Outcome, reason: string) =>
    publishTerminal(
      deps.js,
      terminalOf({
        requestId: request.requestId,
        tenant: request.tenant,
        outcome,
        reason,
        pool: from,
        tier: request.tier,
        model: request.model,
        feature: request.feature,
      }),
      deps.now(),
    );

  return async function handle({ event }: Delivery): Promise<void> {
    const { request, fromPool, batchId, reason } = expectPayload(event, 'replacementRequested').replacementRequested;
    if (!request || !fromPool) throw new DomainError('INVALID_ARGUMENT', 'replacement request without a request or the pool it left');
    if (deps.hasEnded(request.requestId)) return;
    // Another batch holds it: an earlier delivery of this event already moved it.
    if (!(await releaseClaim(deps.batchingKv, request.requestId, batchId))) return;
    if (request.deadlineUnixMs > 0 && request.deadlineUnixMs <= deps.now()) {
      return void (await end(request, fromPool, Outcome.OUTCOME_EXPIRED, `deadline passed before it could be placed elsewhere (${reason})`));
    }
    const to = await deps.replace({ ...request, replacedFrom: fromPool }, fromPool, 'upstream', `dispatch-${request.requestId}-replaced`, reason);
    if (to) return deps.logger.info({ requestId: request.requestId, from: fromPool, to }, 'upstream failed before the first token; placed elsewhere');
    await end(request, fromPool, Outcome.OUTCOME_FAILED, `${reason}; no other pool could take it`);
  };
}
