/** SQLSTATEs after which running the whole transaction again may succeed: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);

/** Whether a Postgres error is a serialization failure or a deadlock. */
export const isRetryableConflict = (e: unknown): boolean => RETRYABLE.has(String((e as { code?: unknown } | null)?.code));

/**
 * Runs a transaction, and runs it again whole after a serialization failure or a deadlock,
 * `attempts` times in all; any other error, or the last conflict, is thrown.
 */
export async function retryConflicts<T>(transaction: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (e) {
      if (attempt >= attempts || !isRetryableConflict(e)) throw e;
    }
  }
}
