import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import type { Keyring, Principal } from '@switchyard/auth';
import {
  AdmissionServiceService,
  authorizationOf,
  DomainError,
  Outcome,
  rejectUndecodable,
  toGrpcError,
  type AdmissionServiceServer,
  type CompleteRequest,
  type CompleteResponse,
  type GenerateRequest,
  type GenerateResponse,
  type GetRequestRequest,
  type GetRequestResponse,
} from '@switchyard/contracts';
import { runGeneration, type GenerationDeps } from './generation.js';
import type { RequestStore } from './request-store.js';
import { validateGeneration, validateRequestId, type GenerationLimits } from './validate.js';

export interface AdmissionHandlerDeps extends GenerationDeps {
  readonly keyring: Keyring;
  readonly limits: GenerationLimits;
  readonly store: RequestStore;
}

/** grpc-js gives Infinity when the caller set no deadline. */
function deadlineOf(call: { getDeadline(): Date | number }): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : 0;
}

/** Validates a Generate/Complete body for a caller; a key's feature tag wins over the body's. */
export function paramsFor(deps: Pick<AdmissionHandlerDeps, 'limits'>, principal: Principal, body: GenerateRequest) {
  return validateGeneration({ ...body, feature: principal.feature || body.feature }, deps.limits);
}

/** Authenticates and validates a Generate/Complete call. */
export function prepareCall(deps: Pick<AdmissionHandlerDeps, 'keyring' | 'limits'>, authorizationHeader: string | undefined, body: GenerateRequest) {
  const principal = deps.keyring.authenticate(authorizationHeader);
  return { principal, params: paramsFor(deps, principal, body) };
}

/**
 * The AdmissionService handlers; domain errors become gRPC statuses here and only here, and a
 * request that did not decode is refused before any handler runs.
 */
export function admissionHandlers(deps: AdmissionHandlerDeps): AdmissionServiceServer {
  const fail = (e: unknown, what: string) => {
    if (!(e instanceof DomainError)) deps.logger.error({ err: e }, `${what} failed`);
    return toGrpcError(e);
  };

  return rejectUndecodable(AdmissionServiceService, {
    generate(call: ServerWritableStream<GenerateRequest, GenerateResponse>) {
      const abort = new AbortController();
      // grpc-js also reports 'cancelled' once a call that ended is torn down; aborting then
      // would only build a DOMException per request.
      let ended = false;
      call.on('cancelled', () => ended || abort.abort());
      void (async () => {
        const { principal, params } = prepareCall(deps, authorizationOf(call.metadata), call.request);
        const result = await runGeneration(deps, principal, params, {
          onStarted: (requestId) => void call.write({ event: { $case: 'started', started: { requestId, model: params.model } } }),
          onChunk: (text, seq) => void call.write({ event: { $case: 'chunk', chunk: { text, seq } } }),
          signal: abort.signal,
          deadlineUnixMs: deadlineOf(call),
          idempotencyKey: call.request.idempotencyKey,
        });
        call.write({ event: { $case: 'finished', finished: { outcome: Outcome.OUTCOME_COMPLETED, usage: result.usage, finishReason: result.finishReason } } });
        ended = true;
        call.end();
      })().catch((e) => {
        if (abort.signal.aborted) return;
        ended = true;
        call.emit('error', fail(e, 'Generate'));
      });
    },

    complete(call: ServerUnaryCall<CompleteRequest, CompleteResponse>, callback: sendUnaryData<CompleteResponse>) {
      void (async () => {
        const { principal, params } = prepareCall(deps, authorizationOf(call.metadata), call.request);
        const parts: string[] = [];
        const abort = new AbortController();
        let ended = false;
        call.on('cancelled', () => ended || abort.abort());
        const result = await runGeneration(deps, principal, params, {
          onStarted: () => {},
          onChunk: (text) => void parts.push(text),
          signal: abort.signal,
          deadlineUnixMs: deadlineOf(call),
          idempotencyKey: call.request.idempotencyKey,
        });
        ended = true;
        callback(null, {
          requestId: result.requestId,
          model: params.model,
          text: parts.join(''),
          outcome: Outcome.OUTCOME_COMPLETED,
          usage: result.usage,
          finishReason: result.finishReason,
        });
      })().catch((e) => callback(fail(e, 'Complete')));
    },

    getRequest(call: ServerUnaryCall<GetRequestRequest, GetRequestResponse>, callback: sendUnaryData<GetRequestResponse>) {
      void (async () => {
        const principal = deps.keyring.authenticate(authorizationOf(call.metadata));
        const requestId = validateRequestId(call.request.requestId);
        const record = await deps.store.get(requestId);
        // Another tenant's request is reported as absent, so ids cannot be probed.
        if (!record || (record.tenant !== principal.tenant && !principal.operator)) {
          throw new DomainError('NOT_FOUND', `no request ${requestId} for this API key`);
        }
        const { tenant: _tenant, ...response } = record;
        callback(null, response);
      })().catch((e) => callback(fail(e, 'GetRequest')));
    },
  });
}
