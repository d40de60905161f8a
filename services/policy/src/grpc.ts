import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { CheckTarget as WireTarget, DomainError, isDomainError, PolicyAction, toGrpcError, type CheckRequest, type CheckResponse, type PolicyServiceServer } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { CheckTarget, CheckVerdict } from './check.js';

const wireAction = { allow: PolicyAction.POLICY_ACTION_ALLOW, redact: PolicyAction.POLICY_ACTION_REDACT, block: PolicyAction.POLICY_ACTION_BLOCK } as const;

/** Unspecified means prompt, as callers from before targets existed sent. */
function targetOf(t: WireTarget): CheckTarget {
  if (t === WireTarget.CHECK_TARGET_OUTPUT) return 'output';
  if (t === WireTarget.CHECK_TARGET_PROMPT || t === WireTarget.CHECK_TARGET_UNSPECIFIED) return 'prompt';
  throw new DomainError('INVALID_ARGUMENT', `unknown check target ${String(t)}`);
}

export interface PolicyHandlerDeps {
  /** Synchronous: the policy is in memory, so a check never waits on I/O. */
  readonly check: (tenant: string, requestId: string, text: string, target: CheckTarget, startedMs: number) => CheckVerdict;
  readonly logger: Logger;
}

export function policyHandlers(deps: PolicyHandlerDeps): PolicyServiceServer {
  return {
    check(call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      const startedMs = performance.now();
      const { tenant, requestId, text } = call.request;
      let v: CheckVerdict;
      try {
        v = deps.check(tenant, requestId, text, targetOf(call.request.target), startedMs);
      } catch (e) {
        // The error names codes and rules, never the text. A refused request is the caller's fault.
        if (isDomainError(e)) deps.logger.warn({ err: e, requestId }, 'policy check refused');
        else deps.logger.error({ err: e, requestId }, 'policy check failed');
        callback(toGrpcError(e));
        return;
      }
      callback(null, { action: wireAction[v.action], redactedText: v.redactedText, categories: v.categories, ruleIds: v.ruleIds, policyVersion: v.policyVersion });
    },
  };
}
