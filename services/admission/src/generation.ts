import { randomUUID } from 'node:crypto';
import { publishEvent, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import {
  DomainError,
  Outcome,
  PolicyAction,
  makeEvent,
  subjects,
  type RequestSpec,
  type RequestTerminated,
  type TokenUsage,
} from '@switchyard/contracts';
import type { Principal } from '@switchyard/auth';
import type { PolicyClient } from './policy-client.js';
import type { RequestStore } from './request-store.js';
import type { TerminalWatch } from './terminal-watch.js';
import { relayTokens } from './token-relay.js';
import type { GenerationParams } from './validate.js';

export interface GenerationDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly policy: PolicyClient;
  readonly store: RequestStore;
  readonly terminals: TerminalWatch;
  readonly now: () => number;
  /** How long after the terminal event late chunks may still arrive. Default 2 s. */
  readonly chunkGraceMs?: number;
  /** Upper bound on one request when the caller set no deadline. Default 10 min. */
  readonly maxRequestMs?: number;
}

export interface GenerationResult {
  readonly requestId: string;
  readonly usage: TokenUsage;
  readonly finishReason: string;
}

export interface GenerationHooks {
  /** Called once the request is admitted, before any chunk. */
  onStarted(requestId: string): void;
  onChunk(text: string, seq: number): void;
  /** Aborts waiting when the client goes away. */
  readonly signal?: AbortSignal;
  /** Absolute deadline from the caller, in Unix ms; 0 for none. */
  readonly deadlineUnixMs: number;
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
 * Admits one request and follows it to its terminal outcome: policy check, publish on
 * REQUESTS, relay token chunks from the inbox, then wait for the LIFECYCLE event.
 */
export async function runGeneration(deps: GenerationDeps, principal: Principal, params: GenerationParams, hooks: GenerationHooks): Promise<GenerationResult> {
  const requestId = `req_${randomUUID().replaceAll('-', '')}`;
  const verdict = await deps.policy.check(principal.tenant, requestId, params.prompt);
  if (verdict.action === PolicyAction.POLICY_ACTION_BLOCK) {
    throw new DomainError('PERMISSION_DENIED', `prompt blocked by policy (${verdict.categories.join(', ') || 'policy'}; rules ${verdict.ruleIds.join(', ')})`);
  }
  const nowMs = deps.now();
  const spec: RequestSpec = {
    requestId,
    tenant: principal.tenant,
    tier: params.tier,
    model: params.model,
    prompt: verdict.redactedText,
    promptTokens: params.promptTokens,
    maxTokens: params.maxTokens,
    feature: params.feature,
    seed: params.seed,
    inbox: subjects.tokenInbox(requestId),
    deadlineUnixMs: hooks.deadlineUnixMs,
    admittedUnixMs: nowMs,
  };

  const terminal = deps.terminals.expect(requestId);
  const relay = relayTokens(deps.nc, spec.inbox, hooks.onChunk);
  const giveUpAt = hooks.deadlineUnixMs || nowMs + (deps.maxRequestMs ?? 600_000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await deps.store.admitted({ requestId, tenant: spec.tenant, model: spec.model, tier: spec.tier, admittedUnixMs: nowMs });
    await publishEvent(
      deps.js,
      subjects.requestAdmitted(params.tierName, principal.tenant),
      makeEvent({ id: `admitted-${requestId}`, tenant: principal.tenant, requestId, nowMs }, { $case: 'requestAdmitted', requestAdmitted: { request: spec } }),
    ).catch((e) => {
      throw new DomainError('UNAVAILABLE', 'could not queue the request; try again shortly', { cause: e, retryAfterMs: 1_000 });
    });
    hooks.onStarted(requestId);

    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainError('DEADLINE_EXCEEDED', `no result within the deadline (request ${requestId})`)), Math.max(0, giveUpAt - deps.now()));
    });
    const aborted = new Promise<never>((_, reject) => {
      hooks.signal?.addEventListener('abort', () => reject(new DomainError('FAILED_PRECONDITION', 'client cancelled the call')), { once: true });
    });
    const t = await Promise.race([terminal.promise, timeout, aborted]);
    if (t.outcome !== Outcome.OUTCOME_COMPLETED) throw outcomeError(t);
    // Chunks travel on core NATS and the outcome on JetStream; give stragglers a moment.
    const complete = await relay.waitForChunks(t.chunkCount, deps.chunkGraceMs ?? 2_000);
    if (!complete) {
      throw new DomainError('UNAVAILABLE', `token stream lost ${t.chunkCount - relay.delivered} of ${t.chunkCount} chunks; retrying is safe`);
    }
    return { requestId, usage: t.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 }, finishReason: 'length' };
  } finally {
    clearTimeout(timer);
    terminal.cancel();
    relay.close();
  }
}
