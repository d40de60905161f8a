import { Server, ServerCredentials } from '@grpc/grpc-js';
import { publishEvent, type JetStreamClient } from '@switchyard/bus';
import { PolicyServiceService, makeEvent, subjects, type CheckRequest } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { checkText } from './check.js';
import { policyHandlers } from './grpc.js';
import { DEFAULT_POLICY, type PolicySet } from './policy-set.js';

export interface PolicyDeps {
  readonly js: JetStreamClient;
  readonly logger: Logger;
  readonly listen: string;
  readonly policyFor?: (tenant: string) => PolicySet;
  readonly now?: () => number;
}

/**
 * Serves Policy.Check and publishes one decision event per check, carrying categories and
 * rule ids only, never the text.
 */
export function createPolicy(deps: PolicyDeps) {
  const now = deps.now ?? Date.now;
  const policyFor = deps.policyFor ?? (() => DEFAULT_POLICY);
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });

  const check = async (request: CheckRequest) => {
    const started = performance.now();
    const verdict = checkText(request.text, policyFor(request.tenant));
    const latencyMs = performance.now() - started;
    const tenant = request.tenant;
    // Telemetry must not slow the hot path or fail the check: publish in the background.
    publishEvent(
      deps.js,
      subjects.decision('policy', tenant),
      makeEvent({ id: `decision-policy-${request.requestId}-${request.target}`, tenant, requestId: request.requestId, nowMs: now() }, {
        $case: 'decision',
        decision: { service: 'policy', action: verdict.action, reason: '', chosen: '', candidates: [], categories: verdict.categories, ruleIds: verdict.ruleIds, policyVersion: verdict.policyVersion, latencyMs },
      }),
    ).catch((e) => deps.logger.warn({ err: e, requestId: request.requestId }, 'policy decision event not published'));
    return verdict;
  };

  return {
    async start(): Promise<string> {
      server.addService(PolicyServiceService, policyHandlers({ check, logger: deps.logger }));
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(deps.listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      return `${deps.listen.slice(0, deps.listen.lastIndexOf(':'))}:${port}`;
    },
    async stop() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

export type Policy = ReturnType<typeof createPolicy>;
