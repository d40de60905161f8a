import type { JetStreamClient } from '@nats-io/jetstream';
import { makeEvent, subjects, type Decision } from '@switchyard/contracts';
import { publishEvent } from './publish.js';

export type DecisionService = 'admission' | 'policy' | 'scheduler';

/**
 * Publishes what a service decided about a request and why (decision telemetry). The id is
 * derived from service, request and action so a retried publish is de-duplicated.
 */
export function publishDecision(
  js: JetStreamClient,
  service: DecisionService,
  tenant: string,
  requestId: string,
  decision: Partial<Decision> & Pick<Decision, 'action' | 'reason'>,
  nowMs: number,
) {
  const full: Decision = { service, chosen: '', candidates: [], categories: [], ruleIds: [], policyVersion: '', latencyMs: 0, ...decision };
  return publishEvent(
    js,
    subjects.decision(service, tenant),
    makeEvent({ id: `decision-${service}-${requestId}-${decision.action}`, tenant, requestId, nowMs }, { $case: 'decision', decision: full }),
  );
}
