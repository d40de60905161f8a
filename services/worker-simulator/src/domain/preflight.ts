import { Outcome, type RequestSpec } from '@switchyard/contracts';
import type { Unfinished } from '@switchyard/worker-kit';

export interface Refusal {
  readonly outcome: Unfinished;
  readonly reason: string;
}

export interface PreflightContext {
  readonly nowMs: number;
  readonly pool: { readonly id: string; readonly model: string };
  readonly workerId: string;
  readonly cancelled: boolean;
  /** Injected error rate in force, 0..1. */
  readonly errorFraction: number;
  /** Uniform [0, 1) draw, taken only when an error rate is in force. */
  readonly draw: () => number;
}

/** Why a pulled request ends before reaching the GPU, or undefined when it may run. */
export function preflight(request: RequestSpec, ctx: PreflightContext): Refusal | undefined {
  if (ctx.cancelled) return { outcome: Outcome.OUTCOME_CANCELLED, reason: 'cancelled by the caller before it reached a GPU' };
  if (request.deadlineUnixMs > 0 && request.deadlineUnixMs <= ctx.nowMs) {
    return { outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed before the request reached a GPU' };
  }
  if (request.model !== ctx.pool.model) {
    return { outcome: Outcome.OUTCOME_FAILED, reason: `pool ${ctx.pool.id} serves ${ctx.pool.model}, not ${request.model}` };
  }
  if (request.maxTokens < 1) return { outcome: Outcome.OUTCOME_FAILED, reason: 'max_tokens must be at least 1' };
  if (ctx.errorFraction > 0 && ctx.draw() < ctx.errorFraction) {
    return { outcome: Outcome.OUTCOME_FAILED, reason: `simulated GPU error on worker ${ctx.workerId} (injected fault)` };
  }
  return undefined;
}

/**
 * How a request the caller stopped while it ran ends: EXPIRED when its deadline has passed (the
 * relay gives up at the deadline and says so with the same cancel), CANCELLED otherwise. Both
 * bill what was streamed until then.
 */
export function stoppedByCaller(request: RequestSpec, nowMs: number): Refusal {
  if (request.deadlineUnixMs > 0 && request.deadlineUnixMs <= nowMs) {
    return { outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed while generating' };
  }
  return { outcome: Outcome.OUTCOME_CANCELLED, reason: 'cancelled by the caller' };
}
