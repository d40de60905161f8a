import { ACT_FOR_TENANT_HEADER, actFor, type Keyring, type Principal } from '@switchyard/auth';
import {
  DomainError,
  Outcome,
  type AdmissionServiceServer,
  type CompleteRequest,
  type CompleteResponse,
  type GenerateRequest,
  type GenerateResponse,
  type GetRequestRequest,
  type GetRequestResponse,
} from '@switchyard/contracts';
import { Metadata } from '@grpc/grpc-js';
import { authorizationOf, callerTraceparent, createGrpcEdge, type CallContext } from '@switchyard/grpc-edge';
import { endSpan } from '@switchyard/telemetry';
import { startRequestTrace, type RequestTrace } from './request-trace.js';
import { callParams } from './domain/call-params.js';
import { runGeneration, type GenerationDeps } from './generation.js';
import type { RequestStore } from './request-store.js';
import { validateRequestId, type GenerationLimits } from './domain/validate.js';
import type { PromptEncoder } from '@switchyard/tokenizer';
import type { ModelCatalog } from './domain/model-catalog.js';

export interface AdmissionHandlerDeps extends GenerationDeps {
  readonly keyring: Keyring;
  readonly limits: GenerationLimits;
  /** Llama 3 tokenizer (`encodePrompt`): counts the prompt and gives its ids for the prefix identity. */
  readonly encodePrompt: PromptEncoder;
  readonly store: RequestStore;
  /** Every model name a caller may send now; others are refused NOT_FOUND before anything is spent. */
  readonly models: () => ModelCatalog;
  /** How long a Generate stream's output may wait for a caller that does not read it. Default the edge's (30 s). */
  readonly stalledStreamMs?: number;
}

/** The AdmissionService handlers: the gRPC side of the call path `http.ts` serves over HTTP. */
export function admissionHandlers(deps: AdmissionHandlerDeps): AdmissionServiceServer {
  const { unary, serverStream } = createGrpcEdge<Principal>({
    logger: deps.logger,
    stalledStreamMs: deps.stalledStreamMs,
    authenticate: (metadata) => {
      try {
        return actFor(deps.keyring.authenticate(authorizationOf(metadata)), metadata.get(ACT_FOR_TENANT_HEADER)[0]?.toString());
      } catch (e) {
        deps.metrics?.refused('auth');
        throw e;
      }
    },
  });
  const paramsOf = (principal: Principal, request: GenerateRequest | CompleteRequest) => {
    try {
      return callParams(deps.limits, deps.encodePrompt, deps.models(), principal, request);
    } catch (e) {
      deps.metrics?.refused('invalid');
      throw e;
    }
  };

  /**
   * Runs `call` in the request's trace, continuing the caller's `traceparent`; the answer's
   * header metadata carries the trace on, so a caller can find it.
   */
  const traced = async <T>(context: CallContext<Principal>, call: (trace: RequestTrace) => Promise<T>): Promise<T> => {
    const trace = startRequestTrace(callerTraceparent(context.metadata));
    const headers = new Metadata();
    headers.set('traceparent', trace.traceparent);
    context.sendHeaders(headers);
    try {
      const result = await call(trace);
      endSpan(trace.span);
      return result;
    } catch (e) {
      endSpan(trace.span, e);
      throw e;
    }
  };

  return {
    generate: serverStream<GenerateRequest, GenerateResponse>((request, context, write) =>
      traced(context, async (trace) => {
        const { principal, signal, deadlineUnixMs } = context;
        const params = paramsOf(principal, request);
        const result = await runGeneration(deps, principal, params, {
          onStarted: (requestId) => write({ event: { $case: 'started', started: { requestId, model: params.model } } }),
          onChunk: (text, seq) => write({ event: { $case: 'chunk', chunk: { text, seq } } }),
          signal,
          deadlineUnixMs,
          idempotencyKey: request.idempotencyKey,
          trace,
        });
        write({ event: { $case: 'finished', finished: { outcome: Outcome.OUTCOME_COMPLETED, usage: result.usage, finishReason: result.finishReason } } });
      }),
    ),

    complete: unary<CompleteRequest, CompleteResponse>((request, context) =>
      traced(context, async (trace) => {
        const { principal, signal, deadlineUnixMs } = context;
        const params = paramsOf(principal, request);
        const parts: string[] = [];
        const result = await runGeneration(deps, principal, params, {
          onStarted: () => {},
          onChunk: (text) => void parts.push(text),
          signal,
          deadlineUnixMs,
          idempotencyKey: request.idempotencyKey,
          trace,
        });
        return {
          requestId: result.requestId,
          model: params.model,
          text: parts.join(''),
          outcome: Outcome.OUTCOME_COMPLETED,
          usage: result.usage,
          finishReason: result.finishReason,
        };
      }),
    ),

    getRequest: unary<GetRequestRequest, GetRequestResponse>(async (request, { principal }) => {
      const requestId = validateRequestId(request.requestId);
      const record = await deps.store.get(requestId);
      // Another tenant's request is reported as absent, so ids cannot be probed.
      if (!record || (record.tenant !== principal.tenant && !principal.operator)) {
        throw new DomainError('NOT_FOUND', `no request ${requestId} for this API key`);
      }
      const { tenant: _tenant, ...response } = record;
      return response;
    }),
  };
}
