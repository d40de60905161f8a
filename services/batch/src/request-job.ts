import type { AdmissionClient } from './admission-client.js';
import type { BackfillGate } from './backfill-gate.js';
import type { BatchStore, ItemWork } from './batch-store.js';
import { dispose } from './domain/answer-disposition.js';
import { msUntilOpen, type OffPeakWindow } from './domain/off-peak.js';
import type { ItemOutcome } from './domain/result-lines.js';
import type { StopWatch } from './stop-watch.js';

export interface RequestJobDeps {
  readonly store: BatchStore;
  readonly admission: AdmissionClient;
  readonly gate: BackfillGate;
  readonly stops: StopWatch;
  readonly offPeak: ReadonlyMap<string, OffPeakWindow>;
  readonly now: () => number;
  /** A line's batch is done with: all lines settled. */
  readonly onBatchSettled: (batchId: string) => Promise<void>;
}

/** How the job runner should go on after one run of a line. */
export type RequestStep =
  | { readonly kind: 'done' }
  /**
   * Not yet: run again in `delayMs` without spending an attempt (off-peak window, rate limit).
   * A delay, not a time: the queue runs on the real clock, the job on the injected one.
   */
  | { readonly kind: 'later'; readonly delayMs: number }
  /** A platform failure: retry with backoff while attempts remain. */
  | { readonly kind: 'retry'; readonly reason: string };

const stoppedError = (reason: 'cancelled' | 'expired') =>
  reason === 'cancelled'
    ? { code: 'batch_cancelled', message: 'the batch was cancelled before this request started' }
    : { code: 'batch_expired', message: 'this request could not be run before the completion window expired' };

/**
 * Runs one line of a batch through admission and settles it exactly once. The idempotency
 * key is the batch and line, so a line run again after a crash joins its first run in
 * admission instead of running (and billing) twice.
 */
export function createRequestJob(deps: RequestJobDeps) {
  const { store } = deps;

  const settle = async (item: ItemWork, outcome: ItemOutcome, succeeded: boolean) => {
    const settled = await store.settle(item.batchId, outcome, succeeded);
    if (settled.allSettled) await deps.onBatchSettled(item.batchId);
  };

  return async function runLine(batchId: string, line: number, lastAttempt: boolean): Promise<RequestStep> {
    const item = await store.item(batchId, line);
    if (!item || item.state !== 'pending') return { kind: 'done' };
    const base = { line, customId: item.customId };
    const nowMs = deps.now();
    if (!item.stopReason && nowMs >= item.expiresMs) await store.expire(batchId);
    const stopReason = item.stopReason ?? (nowMs >= item.expiresMs ? 'expired' : null);
    if (stopReason) {
      await settle(item, { ...base, error: stoppedError(stopReason) }, false);
      return { kind: 'done' };
    }
    const window = deps.offPeak.get(item.tenant);
    const untilOpen = window ? msUntilOpen(window, nowMs) : 0;
    if (untilOpen > 0) return { kind: 'later', delayMs: Math.min(untilOpen, item.expiresMs - nowMs) };

    const release = await deps.gate.enter(() => deps.stops.reasonOf(batchId) === null && deps.now() < item.expiresMs);
    if (!release) return { kind: 'later', delayMs: 0 };
    try {
      const answer = await deps.admission({
        endpoint: item.endpoint,
        body: item.body!,
        tenant: item.tenant,
        feature: item.feature,
        idempotencyKey: `batch-${batchId}-${line}`,
      });
      const errorCode = answer.kind === 'answered' ? ((answer.body as { error?: { code?: unknown } } | null)?.error?.code as string | undefined) : undefined;
      const next = dispose(answer.kind === 'answered' ? { status: answer.status, errorCode, retryAfterMs: answer.retryAfterMs } : { status: 0 });
      if (next.kind === 'wait') return { kind: 'later', delayMs: next.delayMs };
      if (next.kind === 'retry' && !lastAttempt) return next;
      const outcome: ItemOutcome =
        answer.kind === 'answered'
          ? {
              ...base,
              response: { statusCode: answer.status, requestId: answer.requestId, body: answer.body },
              ...(answer.status === 200 ? {} : { error: { code: errorCode ?? `http_${answer.status}`, message: errorMessage(answer.body) } }),
            }
          : { ...base, error: { code: 'server_error', message: `admission could not be reached after retries: ${answer.message}` } };
      await settle(item, outcome, next.kind === 'settle' && next.succeeded);
      return { kind: 'done' };
    } finally {
      release();
    }
  };
}

function errorMessage(body: unknown): string {
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === 'string' ? message : typeof body === 'string' ? body.slice(0, 500) : 'the request failed';
}

export type RequestJobRunner = ReturnType<typeof createRequestJob>;
