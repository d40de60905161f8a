import { Outcome, type RequestSpec } from '@switchyard/contracts';
import type { Unfinished } from '@switchyard/worker-kit';

export interface Refusal {
  readonly outcome: Unfinished;
  readonly reason: string;
}

/** Why a pulled request is not sent upstream, or undefined when it may be. */
export function refusalOf(
  request: RequestSpec,
  ctx: { readonly nowMs: number; readonly pool: string; readonly model: string; readonly cancelled: boolean },
): Refusal | undefined {
  if (ctx.cancelled) return { outcome: Outcome.OUTCOME_CANCELLED, reason: 'cancelled by the caller before it was sent upstream' };
  if (request.deadlineUnixMs > 0 && request.deadlineUnixMs <= ctx.nowMs) {
    return { outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed before the request was sent upstream' };
  }
  if (request.model !== ctx.model) return { outcome: Outcome.OUTCOME_FAILED, reason: `pool ${ctx.pool} serves ${ctx.model}, not ${request.model}` };
  if (request.maxTokens < 1) return { outcome: Outcome.OUTCOME_FAILED, reason: 'max_tokens must be at least 1' };
  return undefined;
}

/** How a request its caller stopped while upstream ends: EXPIRED past its deadline, CANCELLED otherwise. */
export function stoppedByCaller(
  request: RequestSpec,
  nowMs: number,
): { outcome: typeof Outcome.OUTCOME_CANCELLED | typeof Outcome.OUTCOME_EXPIRED; reason: string } {
  if (request.deadlineUnixMs > 0 && request.deadlineUnixMs <= nowMs)
    return { outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed while generating upstream' };
  return { outcome: Outcome.OUTCOME_CANCELLED, reason: 'cancelled by the caller' };
}
