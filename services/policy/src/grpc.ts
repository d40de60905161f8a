import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  CheckTarget as WireTarget,
  DomainError,
  isDomainError,
  PolicyAction,
  type CheckRequest,
  type CheckResponse,
  type CheckStreamRequest,
  type CheckStreamResponse,
  type PolicyServiceServer,
} from '@switchyard/contracts';
import { callerTraceparent, createGrpcEdge, toGrpcError } from '@switchyard/grpc-edge';
import type { CheckTarget, CheckVerdict } from '@switchyard/policy-rules';
import { endSpan, SpanKind, startSpan, traceparentOf, type Logger } from '@switchyard/telemetry';

const wireAction = { allow: PolicyAction.POLICY_ACTION_ALLOW, redact: PolicyAction.POLICY_ACTION_REDACT, block: PolicyAction.POLICY_ACTION_BLOCK } as const;

/** Unspecified means prompt, as callers from before targets existed sent. */
function targetOf(t: WireTarget): CheckTarget {
  if (t === WireTarget.CHECK_TARGET_OUTPUT) return 'output';
  if (t === WireTarget.CHECK_TARGET_PROMPT || t === WireTarget.CHECK_TARGET_UNSPECIFIED) return 'prompt';
  throw new DomainError('INVALID_ARGUMENT', `unknown check target ${String(t)}`);
}

export interface PolicyHandlerDeps {
  /** Synchronous: the policy is in memory, so a check never waits on I/O. */
  /** `traceparent`: the check's span, for its decision event. */
  readonly check: (tenant: string, requestId: string, text: string, target: CheckTarget, startedMs: number, traceparent?: string) => CheckVerdict;
  readonly logger: Logger;
  /** Open CheckStream calls, so shutdown can end them (a client then reconnects elsewhere). */
  readonly openStreams: Set<ServerDuplexStream<CheckStreamRequest, CheckStreamResponse>>;
}

export function policyHandlers(deps: PolicyHandlerDeps): PolicyServiceServer {
  // Callers are admission replicas inside the deployment; the tenant travels in the request.
  const { unary } = createGrpcEdge({ logger: deps.logger, authenticate: () => undefined });

  /**
   * One check, as a `policy.check` span in the caller's trace; throws what the caller should
   * see. The log names codes and rules, never the text.
   */
  const checkOne = (request: CheckRequest, traceparent: string | undefined): CheckResponse => {
    const startedMs = performance.now();
    const { tenant, requestId, text } = request;
    const span = startSpan('policy.check', traceparent, { kind: SpanKind.SERVER });
    try {
      const v = deps.check(tenant, requestId, text, targetOf(request.target), startedMs, traceparentOf(span) ?? traceparent);
      if (span.isRecording()) {
        span.setAttributes({ 'switchyard.tenant': tenant, 'switchyard.request_id': requestId, 'switchyard.policy.action': v.action });
      }
      endSpan(span);
      return { action: wireAction[v.action], redactedText: v.redactedText, categories: v.categories, ruleIds: v.ruleIds, policyVersion: v.policyVersion };
    } catch (e) {
      endSpan(span, e);
      // A refused request is the caller's fault: worth a warning, not an error.
      if (isDomainError(e)) deps.logger.warn({ err: e, requestId }, 'policy check refused');
      throw e;
    }
  };

  return {
    check: unary((request: CheckRequest, { metadata }) => checkOne(request, request.traceparent || callerTraceparent(metadata))),

    checkStream(call: ServerDuplexStream<CheckStreamRequest, CheckStreamResponse>) {
      deps.openStreams.add(call);
      const forget = () => deps.openStreams.delete(call);
      call.on('close', forget);
      call.on('data', (m: CheckStreamRequest) => {
        if (!m.check) {
          call.write({ id: m.id, response: undefined, error: { code: status.INVALID_ARGUMENT, message: 'a stream check needs a check' } });
          return;
        }
        try {
          call.write({ id: m.id, response: checkOne(m.check, m.check.traceparent), error: undefined });
        } catch (e) {
          // One bad check fails that check, not the stream the other checks share.
          if (!isDomainError(e)) deps.logger.error({ err: e, requestId: m.check.requestId }, 'policy check failed');
          const error = toGrpcError(e);
          call.write({ id: m.id, response: undefined, error: { code: error.code ?? status.INTERNAL, message: error.details ?? 'internal error' } });
        }
      });
      call.on('end', () => (forget(), call.end()));
      call.on('error', forget); // the caller went away; nothing is pending on our side
    },
  };
}
