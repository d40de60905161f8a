import { emitEvent, type NatsConnection } from '@switchyard/bus';
import { DomainError, subjects } from '@switchyard/contracts';
import { createOutputGuard, policyDecisionEvent, type OutputStep, type PolicySet } from '@switchyard/policy-rules';

import type { ChunkSink } from './domain/chunk-sequencer.js';

export interface OutputCheck {
  /** Feed for the token relay: checked text goes on to the caller, renumbered. */
  readonly onChunk: ChunkSink;
  /** Resolves with the error once a block rule fires; never rejects. */
  readonly blocked: Promise<DomainError>;
  readonly blockedError: DomainError | undefined;
  /** The stream is complete: release what the guard held back (or block). */
  end(): void;
  /** Publishes the output decision event, for tenants that check output. */
  report(nc: NatsConnection, tenant: string, requestId: string, nowMs: number): void;
}

/**
 * Puts the tenant's output rules between the worker's chunks and the caller. The guard
 * holds back a little text so a secret split across chunks is caught before any of it
 * leaves; a block ends the call with PERMISSION_DENIED and cancels generation.
 */
export function guardOutput(policy: PolicySet | undefined, forward: ChunkSink): OutputCheck {
  const guard = policy ? createOutputGuard(policy) : undefined;
  let resolveBlocked!: (e: DomainError) => void;
  const blocked = new Promise<DomainError>((resolve) => (resolveBlocked = resolve));
  if (!guard?.enabled) {
    return { onChunk: forward, blocked, blockedError: undefined, end: () => {}, report: () => {} };
  }
  let seq = 0;
  let error: DomainError | undefined;
  let checkMs = 0;
  const apply = (step: OutputStep) => {
    if (error) return;
    if (step.action === 'block') {
      error = new DomainError('PERMISSION_DENIED', `output blocked by policy (${step.categories.join(', ') || 'policy'}; rules ${step.ruleIds.join(', ')})`);
      resolveBlocked(error);
    } else if (step.text) {
      forward(step.text, seq++);
    }
  };
  const timed = (f: () => OutputStep) => {
    const t = performance.now();
    const step = f();
    checkMs += performance.now() - t;
    return step;
  };
  return {
    onChunk: (text) => apply(timed(() => guard.push(text))),
    blocked,
    get blockedError() {
      return error;
    },
    end: () => apply(timed(() => guard.end())),
    report(nc, tenant, requestId, nowMs) {
      const event = policyDecisionEvent({ tenant, requestId, target: 'output', facts: guard.summary(), rules: policy!.output!, latencyMs: checkMs, nowMs });
      emitEvent(nc, subjects.decision('policy', tenant), event);
    },
  };
}
