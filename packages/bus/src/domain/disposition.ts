import { isDomainError } from '@switchyard/contracts';

/** What to do with a delivered message once its handler has run. */
export type Disposition =
  { readonly kind: 'ack' } | { readonly kind: 'nak'; readonly delayMs: number } | { readonly kind: 'dead-letter'; readonly reason: string };

export interface RetryPolicy {
  /** Deliveries allowed in total, as configured on the consumer. */
  readonly maxDeliver: number;
  /** Delay before redelivery n (1-based); the last entry repeats. */
  readonly backoffMs: readonly number[];
}

/**
 * Decides the fate of a message whose handler failed: retryable errors are redelivered
 * with backoff until the last allowed delivery, anything else goes to the dead-letter
 * subject at once so one poison message does not block the stream.
 */
export function dispositionForError(error: unknown, deliveryCount: number, policy: RetryPolicy): Disposition {
  const retryable = isDomainError(error) ? error.retryable : true;
  const reason = error instanceof Error ? error.message : String(error);
  if (!retryable) return { kind: 'dead-letter', reason };
  if (deliveryCount >= policy.maxDeliver) {
    return { kind: 'dead-letter', reason: `gave up after ${deliveryCount} deliveries: ${reason}` };
  }
  const hinted = isDomainError(error) ? error.retryAfterMs : undefined;
  const table = policy.backoffMs;
  const delayMs = hinted ?? table[Math.min(deliveryCount - 1, table.length - 1)] ?? 1_000;
  return { kind: 'nak', delayMs };
}
