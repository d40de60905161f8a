import { emitEvent, type KV, type NatsConnection } from '@switchyard/bus';
import { DomainError, PolicyServiceService, isTenantId, subjects } from '@switchyard/contracts';
import { serve, type Served } from '@switchyard/grpc-edge';
import {
  checkText,
  DEFAULT_POLICY,
  openPolicyStore,
  policyDecisionEvent,
  type CheckTarget,
  type CheckVerdict,
  type PolicyChange,
  type PolicySet,
  type PolicyStore,
} from '@switchyard/policy-rules';
import { Registry, type Logger } from '@switchyard/telemetry';
import { policyHandlers, type PolicyHandlerDeps } from './grpc.js';
import { createPolicyMetrics } from './policy-metrics.js';

export interface PolicyDeps {
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly listen: string;
  /** The `policies` KV bucket, watched live. Without it every tenant gets `DEFAULT_POLICY`. */
  readonly policies?: KV;
  /** Where the policy metrics register. Default: a registry of their own. */
  readonly registry?: Registry;
  readonly now?: () => number;
}

/**
 * Serves Policy.Check under each tenant's policy from the `policies` bucket (hot
 * reloaded), and publishes one decision event per check with categories, counts and rule
 * ids only, never the text.
 */
export function createPolicy(deps: PolicyDeps) {
  const now = deps.now ?? Date.now;
  const metrics = createPolicyMetrics(deps.registry ?? new Registry());
  let store: PolicyStore | undefined;
  let served: Served | undefined;
  const openStreams: PolicyHandlerDeps['openStreams'] = new Set();
  const policyFor = (tenant: string): PolicySet => store?.policyFor(tenant) ?? DEFAULT_POLICY;

  const onChange = (change: PolicyChange) => {
    metrics.reloaded(change.tenant, change.result);
    if (change.result === 'rejected') {
      deps.logger.warn({ tenant: change.tenant, err: change.error }, 'stored policy rejected; the tenant keeps its previous policy');
    } else {
      deps.logger.info({ tenant: change.tenant, version: change.result === 'applied' ? change.version : undefined }, `policy ${change.result}`);
    }
  };

  const check = (tenant: string, requestId: string, text: string, target: CheckTarget, startedMs: number, traceparent?: string): CheckVerdict => {
    // The tenant becomes a subject token and a metric label: it must be one.
    if (!isTenantId(tenant)) throw new DomainError('INVALID_ARGUMENT', 'tenant must be 1-64 letters, digits, "-" or "_"');
    const policy = policyFor(tenant);
    const verdict = checkText(text, policy, target);
    const latencyMs = performance.now() - startedMs;
    metrics.observe(tenant, target, verdict, latencyMs);
    deps.logger.debug(
      {
        tenant,
        requestId,
        target,
        action: verdict.action,
        categories: verdict.categories,
        ruleIds: verdict.ruleIds,
        policyVersion: verdict.policyVersion,
        latencyMs,
      },
      'policy checked',
    );
    // Telemetry must not slow the hot path or fail the check: no waiting for the stream's ack.
    const event = policyDecisionEvent({
      tenant,
      requestId,
      target,
      facts: verdict,
      rules: target === 'output' && policy.output ? policy.output : policy,
      latencyMs,
      nowMs: now(),
      traceparent,
    });
    emitEvent(deps.nc, subjects.decision('policy', tenant), event);
    return verdict;
  };

  return {
    /** Loads the stored policies, then serves; resolves to the bound address. */
    async start(): Promise<string> {
      if (deps.policies) {
        store = await openPolicyStore({
          kv: deps.policies,
          onChange,
          onError: (e) => deps.logger.error({ err: e }, 'policy watch failed; stored policies no longer reload'),
        });
      }
      served = await serve({
        listen: deps.listen,
        serverOptions: { 'grpc.max_receive_message_length': 4 * 1024 * 1024 },
        services: [{ definition: PolicyServiceService, handlers: policyHandlers({ check, logger: deps.logger, openStreams }) }],
      });
      return served.address;
    },
    async stop() {
      // Every check received is already answered (checks are synchronous): end the streams,
      // so callers reopen them elsewhere and the shutdown need not wait for them.
      for (const call of openStreams) call.end();
      openStreams.clear();
      await served?.stop();
      await store?.stop();
    },
  };
}

export type Policy = ReturnType<typeof createPolicy>;
