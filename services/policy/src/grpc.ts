import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { PolicyAction, toGrpcError, type CheckRequest, type CheckResponse, type PolicyServiceServer } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { CheckVerdict } from './check.js';

const wireAction = { allow: PolicyAction.POLICY_ACTION_ALLOW, redact: PolicyAction.POLICY_ACTION_REDACT, block: PolicyAction.POLICY_ACTION_BLOCK } as const;

export interface PolicyHandlerDeps {
  readonly check: (request: CheckRequest) => Promise<CheckVerdict>;
  readonly logger: Logger;
}

export function policyHandlers(deps: PolicyHandlerDeps): PolicyServiceServer {
  return {
    check(call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      deps.check(call.request).then(
        (v) => callback(null, { action: wireAction[v.action], redactedText: v.redactedText, categories: v.categories, ruleIds: v.ruleIds, policyVersion: v.policyVersion }),
        (e) => {
          deps.logger.error({ err: e, requestId: call.request.requestId }, 'policy check failed');
          callback(toGrpcError(e));
        },
      );
    },
  };
}
