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

/** SQLSTATE classes one row can bring on itself: data exceptions, constraint violations, a trigger's RAISE. */
const ROW_CLASSES = new Set(['22', '23', 'P0']);

/**
 * Whether a failed multi-row write may be one row's own doing (a value out of range, a check
 * constraint, a trigger refusing it), so retrying the rows apart can save the others; never a
 * lost connection, a shutdown or a conflict, which every row shares.
 */
export const isRowRefusal = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && ROW_CLASSES.has(code.slice(0, 2));
};
