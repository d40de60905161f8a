import { status, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import {
  CheckTarget as WireTarget,
  DomainError,
  isDomainError,
  PolicyAction,
  toGrpcError,
  type CheckRequest,
  type CheckResponse,
  type CheckStreamRequest,
  type CheckStreamResponse,
  type PolicyServiceServer,
} from '@switchyard/contracts';
import type { CheckTarget, CheckVerdict } from '@switchyard/policy-rules';
import type { Logger } from '@switchyard/telemetry';

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
  /** Open CheckStream calls, so shutdown can end them (a client then reconnects elsewhere). */
  readonly openStreams: Set<ServerDuplexStream<CheckStreamRequest, CheckStreamResponse>>;
}

export function policyHandlers(deps: PolicyHandlerDeps): PolicyServiceServer {
  /** One check, answered as a response or as the error a caller should see. */
  const answer = (request: CheckRequest): { response: CheckResponse } | { error: unknown } => {
    const startedMs = performance.now();
    const { tenant, requestId, text } = request;
    try {
      const v = deps.check(tenant, requestId, text, targetOf(request.target), startedMs);
      return {
        response: { action: wireAction[v.action], redactedText: v.redactedText, categories: v.categories, ruleIds: v.ruleIds, policyVersion: v.policyVersion },
      };
    } catch (e) {
      // The error names codes and rules, never the text. A refused request is the caller's fault.
      if (isDomainError(e)) deps.logger.warn({ err: e, requestId }, 'policy check refused');
      else deps.logger.error({ err: e, requestId }, 'policy check failed');
      return { error: e };
    }
  };

  return {
    check(call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      const a = answer(call.request);
      if ('error' in a) callback(toGrpcError(a.error));
      else callback(null, a.response);
    },

    checkStream(call: ServerDuplexStream<CheckStreamRequest, CheckStreamResponse>) {
      deps.openStreams.add(call);
      const forget = () => deps.openStreams.delete(call);
      call.on('close', forget);
      call.on('data', (m: CheckStreamRequest) => {
        if (!m.check) {
          call.write({ id: m.id, response: undefined, error: { code: status.INVALID_ARGUMENT, message: 'a stream check needs a check' } });
          return;
        }
        const a = answer(m.check);
        if ('error' in a) {
          const e = toGrpcError(a.error);
          call.write({ id: m.id, response: undefined, error: { code: e.code ?? status.INTERNAL, message: e.details ?? 'internal error' } });
        } else {
          call.write({ id: m.id, response: a.response, error: undefined });
        }
      });
      call.on('end', () => (forget(), call.end()));
      call.on('error', forget); // the caller went away; nothing is pending on our side
    },
  };
}
