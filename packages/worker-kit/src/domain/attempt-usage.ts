import { Outcome, outcomeName } from '@switchyard/contracts';

/** Who ran one attempt of a request, and how it ended. */
export interface AttemptRef {
  readonly requestId: string;
  readonly outcome: Outcome;
  readonly pool: string;
  readonly workerId: string;
  /** The batch's delivery count on this worker's pool. */
  readonly attempt: number;
}

/**
 * The usage id of one attempt, which metering and billing de-duplicate by. A completion is
 * `usage-<request id>` whichever attempt completed, so a request is billed at most once however
 * often it runs to the end. Every other attempt that used a GPU gets an id of its own (its
 * outcome, pool, worker and delivery), so a crashed or cut attempt retried elsewhere never
 * collides with the later completion, nor with another failed attempt.
 */
export function attemptUsageId(a: AttemptRef): string {
  if (a.outcome === Outcome.OUTCOME_COMPLETED) return `usage-${a.requestId}`;
  return `usage-${a.requestId}-${outcomeName(a.outcome)}-${a.pool}-${a.workerId}-${a.attempt}`;
}
