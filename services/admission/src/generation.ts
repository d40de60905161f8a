import { randomUUID } from 'node:crypto';
import type { Principal } from '@switchyard/auth';
import { publishDecision, publishEvent, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import {
  DomainError,
  Outcome,
  isDomainError,
  makeEvent,
  subjects,
  type ErrorCode,
  type RequestSpec,
  type TierName,
  type RequestTerminated,
  type TokenUsage,
} from '@switchyard/contracts';
import { passGates, type GateDeps } from './gates.js';
import { guardOutput } from './output-check.js';
import { createStartGate } from './domain/start-gate.js';
import { leftAtDeadline } from './domain/caller-deadline.js';
import type { PolicySet } from '@switchyard/policy-rules';
import type { Logger } from '@switchyard/telemetry';
import { bodyHash, type Idempotency } from './idempotency.js';
import { writeEventually } from './write-eventually.js';
import type { RequestStore } from './request-store.js';
import type { TerminalWatch } from './terminal-watch.js';
import type { TokenRelayHub } from './token-relay.js';
import type { InFlightGate } from './domain/in-flight-gate.js';
import { outcomeOf } from './metrics.js';
import type { GenerationParams } from './domain/validate.js';
import type { RequestTrace } from './request-trace.js';
import type { PromptPrefixer } from './prompt-prefix.js';

export interface GenerationDeps extends GateDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly store: RequestStore;
  readonly terminals: TerminalWatch;
  readonly relays: TokenRelayHub;
  readonly idempotency: Idempotency;
  /** How long after the terminal event late chunks may still arrive. Default 2 s. */
  readonly chunkGraceMs?: number;
  /** Upper bound on one request when the caller set no deadline. Default 10 min. */
  readonly maxRequestMs?: number;
  /** False while the NATS connection is down: calls are refused at once instead of hanging. Default always up. */
  readonly busConnected?: () => boolean;
  /** Paces each tenant's calls per tier in this process; none means unpaced. */
  readonly inFlight?: { readonly gate: InFlightGate; readonly limit: (tier: TierName) => number };
  /** The tenant's policy, for output checks on the token stream; none means unchecked. */
  readonly outputPolicy?: (tenant: string) => PolicySet | undefined;
  /** The prefix identity of a tenant's prompt, for the workers' prefix caches; none means none is sent. */
  readonly promptPrefix?: PromptPrefixer;
  readonly logger: Logger;
}

export interface GenerationResult {
  readonly requestId: string;
  readonly usage: TokenUsage;
  readonly finishReason: string;
}

export interface GenerationHooks {
  /** Called once the request is admitted (or joined), before any chunk. */
  onStarted(requestId: string): void;
  onChunk(text: string, seq: number): void;
  /** Aborts waiting, and generation downstream, when the client goes away. */
  readonly signal?: AbortSignal;
  /** Absolute deadline from the caller, in Unix ms; 0 for none. */
  readonly deadlineUnixMs: number;
  /** Same key + same body replays the first result; empty for none. */
  readonly idempotencyKey: string;
  /** The call's trace (`startRequestTrace`): the edge that started it ends it. */
  readonly trace: RequestTrace;
}

const noUsage: TokenUsage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };

const cancelled = () => new DomainError('FAILED_PRECONDITION', 'client cancelled the call');

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

/** Refusals that end a request which was admitted, mapped to what the caller should do. */
function outcomeError(t: RequestTerminated): DomainError {
  const why = t.reason || 'no reason given';
  switch (t.outcome) {
    case Outcome.OUTCOME_REJECTED:
      return new DomainError('RESOURCE_EXHAUSTED', `request rejected: ${why}`, { retryAfterMs: t.retryAfterMs || 1_000, retryable: true });
    case Outcome.OUTCOME_EXPIRED:
      return new DomainError('DEADLINE_EXCEEDED', `request expired before it finished: ${why}`);
    case Outcome.OUTCOME_CANCELLED:
      return new DomainError('FAILED_PRECONDITION', `request was cancelled: ${why}`);
    default:
      return new DomainError('UNAVAILABLE', `generation failed: ${why}; retrying is safe`, { retryAfterMs: 500 });
  }
}

/**
 * Admits one request and follows it to its terminal outcome: gates (tier, policy, rate
 * limits, budget), publish on REQUESTS, relay token chunks from the inbox, then wait for
 * the LIFECYCLE event. With an idempotency key, a repeat joins the first call's result.
 */
export async function runGeneration(deps: GenerationDeps, principal: Principal, params: GenerationParams, hooks: GenerationHooks): Promise<GenerationResult> {
  const span = hooks.trace.span;
  if (span.isRecording()) span.setAttributes({ 'switchyard.tenant': principal.tenant, 'switchyard.tier': params.tierName, 'switchyard.model': params.model });
  const metrics = deps.metrics;
  if (!metrics) return generate(deps, principal, params, hooks, { admitted: false, firstTokenMs: 0 });
  const { tierName: tier, model } = params;
  const startedMs = deps.now();
  const progress: Progress = { admitted: false, firstTokenMs: 0 };
  const { onChunk } = hooks;
  metrics.started(tier);
  try {
    const result = await generate(
      deps,
      principal,
      params,
      {
        ...hooks,
        onChunk: (text, seq) => {
          if (progress.firstTokenMs === 0) progress.firstTokenMs = deps.now();
          onChunk(text, seq);
        },
      },
      progress,
    );
    metrics.ended(tier, model, 'completed', startedMs, progress.firstTokenMs, deps.now(), result.usage);
    return result;
  } catch (e) {
    const callerLeft = hooks.signal?.aborted === true && !(isDomainError(e) && e.code === 'DEADLINE_EXCEEDED');
    const outcome = outcomeOf(e, progress.admitted, callerLeft);
    // The gates count their own refusals with why; these two come from this path.
    if (outcome === 'refused' && isDomainError(e) && e.code === 'UNAVAILABLE') metrics.refused('unavailable', tier);
    if (outcome === 'refused' && isDomainError(e) && e.code === 'FAILED_PRECONDITION') metrics.refused('idempotency', tier);
    metrics.ended(tier, model, outcome, startedMs, progress.firstTokenMs, deps.now(), undefined);
    throw e;
  }
}

/** How far a call got: admitted (published) or not, and when its first token came (0: none yet). */
interface Progress {
  admitted: boolean;
  firstTokenMs: number;
}

async function generate(
  deps: GenerationDeps,
  principal: Principal,
  params: GenerationParams,
  hooks: GenerationHooks,
  progress: Progress,
): Promise<GenerationResult> {
  if (deps.busConnected && !deps.busConnected()) {
    throw new DomainError('UNAVAILABLE', 'Switchyard cannot reach its event bus right now; nothing was admitted, retry shortly', { retryAfterMs: 1_000 });
  }
  const requestId = `req_${randomUUID().replaceAll('-', '')}`;
  if (hooks.trace.span.isRecording()) hooks.trace.span.setAttribute('switchyard.request_id', requestId);
  const key = hooks.idempotencyKey;
  if (key) {
    const { prompt, model, maxTokens, tier, feature, seed, stop } = params;
    // Stop sequences join the hash only when sent, so keys stored before they existed still match.
    const body = { prompt, model, maxTokens, tier, feature, seed, ...(stop.length > 0 ? { stop } : {}) };
    for (;;) {
      const claim = await deps.idempotency.claim(principal.tenant, key, bodyHash(body), requestId);
      if (claim.kind === 'conflict') {
        throw new DomainError('FAILED_PRECONDITION', 'this idempotency key was used with a different request body; use a new key for a new request');
      }
      if (claim.kind === 'new') break;
      const joined = await joinExisting(deps, claim.requestId, hooks, () => deps.idempotency.holder(principal.tenant, key));
      // The first call was refused before it ran and let go of the key: this call is the first now.
      if (joined !== 'released') return joined;
    }
  }
  /** Bookkeeping in Redis that must land even when Redis is briefly down (write-eventually.ts). */
  const eventually = (what: string, write: () => Promise<unknown>) =>
    writeEventually(write, {
      retryable: (e) => isDomainError(e) && e.code === 'UNAVAILABLE',
      giveUpAfterMs: deps.maxRequestMs ?? 600_000,
      onGiveUp: (e) => deps.logger.warn({ err: e, requestId }, `${what} never reached Redis`),
    });

  const parts: string[] = [];
  const onChunk = key ? (text: string, seq: number) => (parts.push(text), hooks.onChunk(text, seq)) : hooks.onChunk;
  let leave: (() => void) | undefined;
  try {
    leave = await deps.inFlight?.gate.enter(`${principal.tenant}\u0000${params.tierName}`, deps.inFlight.limit(params.tierName), hooks.signal);
    throwIfCancelled(hooks.signal);
    const cleared = await passGates(deps, principal, params, requestId, hooks.trace.traceparent);
    // A caller that left while the gates ran is not admitted: nothing would read the answer,
    // and a request published now would run (and bill) to the end.
    throwIfCancelled(hooks.signal);
    const result = await followRequest(deps, principal, params, { ...hooks, onChunk }, requestId, cleared.prompt, () => (progress.admitted = true));
    // The request ran and is billed: the caller gets its answer even if Redis cannot keep it
    // for repeats right now; it is stored once Redis is back.
    if (key)
      await eventually('the result for repeats of the idempotency key', () =>
        deps.idempotency.storeResult({
          requestId,
          ok: true,
          text: parts.join(''),
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          finishReason: result.finishReason,
        }),
      );
    return result;
  } catch (e) {
    // The caller hears why its call failed, not that Redis could not tidy up after it.
    if (!progress.admitted) await eventually('the release of the budget reservation', () => deps.budgets.settle(requestId, 0));
    if (key) {
      // A refusal before admission frees the key for a retry; a failure after it is the result.
      if (progress.admitted) {
        const code: ErrorCode = isDomainError(e) ? e.code : 'INTERNAL';
        await eventually('the result for repeats of the idempotency key', () =>
          deps.idempotency.storeResult({
            requestId,
            ok: false,
            text: '',
            inputTokens: 0,
            outputTokens: 0,
            errorCode: code,
            errorMessage: (e as Error).message,
          }),
        );
      } else {
        await eventually('the release of the idempotency key', () => deps.idempotency.release(principal.tenant, key));
      }
    }
    throw e;
  } finally {
    leave?.();
  }
}

async function followRequest(
  deps: GenerationDeps,
  principal: Principal,
  params: GenerationParams,
  hooks: GenerationHooks,
  requestId: string,
  prompt: string,
  markAdmitted: () => void,
): Promise<GenerationResult> {
  const nowMs = deps.now();
  const traceparent = hooks.trace.traceparent;
  // Policy may have redacted the prompt: then the workers see other tokens than were counted.
  const prefix = deps.promptPrefix?.(principal.tenant, prompt, prompt === params.prompt ? params.promptTokenIds : undefined);
  const spec: RequestSpec = {
    requestId,
    tenant: principal.tenant,
    tier: params.tier,
    model: params.model,
    prompt,
    promptTokens: params.promptTokens,
    maxTokens: params.maxTokens,
    feature: params.feature,
    // No seed asked for: a fresh one, so answers vary; retries of this request reuse it. Only
    // variety is needed, not secrecy, so no system call for cryptographic randomness per request.
    seed: params.seed || Math.floor(Math.random() * 2 ** 32),
    stop: [...params.stop],
    inbox: deps.relays.inbox(requestId),
    relayInbox: deps.relays.relayInbox,
    replacedFrom: '',
    deadlineUnixMs: hooks.deadlineUnixMs,
    admittedUnixMs: nowMs,
    traceparent,
    prefixHashes: prefix?.hashes ?? [],
    prefixBlockTokens: prefix?.blockTokens ?? 0,
  };
  const terminal = deps.terminals.expect(requestId);
  const output = guardOutput(deps.outputPolicy?.(principal.tenant), hooks.onChunk);
  const gate = createStartGate(output.onChunk);
  const relay = deps.relays.open(requestId, gate.onChunk);
  const giveUpAt = hooks.deadlineUnixMs || nowMs + (deps.maxRequestMs ?? 600_000);
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let onAbort: (() => void) | undefined;
  const cancelDownstream = () => {
    if (!finished) deps.nc.publish(subjects.cancelRequest(requestId));
  };
  try {
    // The record and the request go out together: the store's writes commute, so the terminal
    // outcome may even be recorded before the admission is.
    // A failed write costs GetRequest its record, not the caller a request already running.
    const recorded = deps.store
      .admitted({ requestId, tenant: spec.tenant, model: spec.model, tier: spec.tier, admittedUnixMs: nowMs })
      .catch((e: unknown) => deps.logger.warn({ err: e, requestId }, 'could not record the admitted request'));
    await publishEvent(
      deps.js,
      subjects.requestAdmitted(params.tierName, principal.tenant),
      makeEvent(
        { id: `admitted-${requestId}`, tenant: principal.tenant, requestId, nowMs, traceparent },
        { $case: 'requestAdmitted', requestAdmitted: { request: spec } },
      ),
    ).catch(async (e: unknown) => {
      await recorded;
      await deps.store.discard(requestId).catch(() => {});
      throw new DomainError('UNAVAILABLE', 'could not queue the request; try again shortly', { cause: e, retryAfterMs: 1_000 });
    });
    markAdmitted();
    // Who the request was for, when the caller said: refusals carry it too (gates.ts).
    if (params.user)
      publishDecision(deps.nc, 'admission', principal.tenant, requestId, { action: 'admit', reason: 'admitted', user: params.user }, nowMs, traceparent);
    await recorded;
    hooks.onStarted(requestId);
    gate.open();

    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          cancelDownstream();
          reject(new DomainError('DEADLINE_EXCEEDED', `no result within the deadline (request ${requestId})`));
        },
        Math.max(0, giveUpAt - deps.now()),
      );
    });
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        if (!leftAtDeadline(hooks.deadlineUnixMs, deps.now())) return (cancelDownstream(), reject(cancelled()));
        // The caller's deadline fired a moment before ours: the cancel goes out at our deadline,
        // where workers read it as the deadline passing (EXPIRED), as they would have anyway.
        setTimeout(cancelDownstream, Math.max(0, hooks.deadlineUnixMs - deps.now()) + 1).unref();
        reject(new DomainError('DEADLINE_EXCEEDED', `no result within the deadline (request ${requestId})`));
      };
      // A caller that left while the request was being published cancels it now: the abort
      // event came before this listener and will not come again.
      if (hooks.signal?.aborted) onAbort();
      else hooks.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const blocked = output.blocked.then((e) => (cancelDownstream(), Promise.reject(e)));
    const t = await Promise.race([terminal.promise, timeout, aborted, blocked, relay.failed.catch((e: unknown) => (cancelDownstream(), Promise.reject(e)))]);
    finished = true;
    if (t.outcome !== Outcome.OUTCOME_COMPLETED) throw outcomeError(t);
    // Chunks travel on core NATS and the outcome on JetStream; give stragglers a moment.
    const complete = await relay.waitForChunks(t.chunkCount, deps.chunkGraceMs ?? 2_000);
    if (!complete) {
      // The request ran and is billed: a caller must not hear that a retry is free.
      throw new DomainError(
        'DATA_LOSS',
        `request ${requestId} ran to completion and is billed, but ${t.chunkCount - relay.delivered} of its ${t.chunkCount} token chunks were lost on the way; a retry is a new request, billed again`,
        { retryable: false },
      );
    }
    output.end();
    if (output.blockedError) throw output.blockedError;
    // Workers from before finish reasons existed ran every request to max_tokens.
    return { requestId, usage: t.usage ?? noUsage, finishReason: t.finishReason || 'length' };
  } finally {
    clearTimeout(timer);
    // A call that ended normally may still report "cancelled" later; nothing should listen then.
    if (onAbort) hooks.signal?.removeEventListener('abort', onAbort);
    terminal.cancel();
    relay.close();
    output.report(deps.nc, principal.tenant, requestId, deps.now());
  }
}

/**
 * A repeat of an idempotent call: wait for the first call's stored result and replay it; or
 * 'released' when the first call let go of the key without running (refused before admission).
 */
async function joinExisting(
  deps: GenerationDeps,
  requestId: string,
  hooks: GenerationHooks,
  holder: () => Promise<string | undefined>,
): Promise<GenerationResult | 'released'> {
  const giveUpAt = hooks.deadlineUnixMs || deps.now() + (deps.maxRequestMs ?? 600_000);
  let started = false;
  for (;;) {
    const [stored, heldBy] = await Promise.all([deps.idempotency.result(requestId), holder()]);
    if (!stored && heldBy !== requestId) {
      if (!started) return 'released';
      // This call already named the first call's request to its caller: it cannot become another.
      throw new DomainError('UNAVAILABLE', `request ${requestId} was refused before it ran; retry with the same idempotency key`, { retryAfterMs: 100 });
    }
    if (!started) {
      started = true;
      hooks.onStarted(requestId);
    }
    if (stored) {
      if (!stored.ok) throw new DomainError((stored.errorCode as ErrorCode) ?? 'INTERNAL', stored.errorMessage ?? 'the original request failed');
      if (stored.text) hooks.onChunk(stored.text, 0);
      const usage = { inputTokens: stored.inputTokens, cachedInputTokens: stored.cachedInputTokens ?? 0, outputTokens: stored.outputTokens };
      return { requestId, usage, finishReason: stored.finishReason ?? 'length' };
    }
    throwIfCancelled(hooks.signal);
    if (deps.now() > giveUpAt) throw new DomainError('DEADLINE_EXCEEDED', `the original request ${requestId} did not finish within the deadline`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
