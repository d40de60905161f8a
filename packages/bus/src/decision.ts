import type { NatsConnection } from '@nats-io/transport-node';
import { makeEvent, subjects, type Decision } from '@switchyard/contracts';
import { emitEvent } from './publish.js';

export type DecisionService = 'admission' | 'policy' | 'scheduler';

/**
 * Publishes what a service decided about a request and why (decision telemetry), without
 * waiting for the stream's ack: it is on every request's path. The id is derived from
 * service, request and action, so analysts can tell the decisions of one request apart.
 */
export function publishDecision(
  nc: NatsConnection,
  service: DecisionService,
  tenant: string,
  requestId: string,
  decision: Partial<Decision> & Pick<Decision, 'action' | 'reason'>,
  nowMs: number,
  /** The request's trace; default none. */
  traceparent?: string,
): void {
  const full: Decision = { service, chosen: '', candidates: [], categories: [], ruleIds: [], policyVersion: '', latencyMs: 0, user: '', ...decision };
  emitEvent(
    nc,
    subjects.decision(service, tenant),
    makeEvent({ id: `decision-${service}-${requestId}-${decision.action}`, tenant, requestId, nowMs, traceparent }, { $case: 'decision', decision: full }),
  );
}
