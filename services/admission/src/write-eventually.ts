import { setTimeout as sleep } from 'node:timers/promises';

export interface WriteEventuallyOptions {
  /** Whether a failure is worth retrying (Redis unreachable) rather than a defect to report at once. */
  readonly retryable: (e: unknown) => boolean;
  /** How long to keep retrying after the first attempt failed. */
  readonly giveUpAfterMs: number;
  /** Waits between retries; the last one repeats. Default 100, 200, 400, 800, 1,600 ms, then 2 s. */
  readonly delaysMs?: readonly number[];
  /** Hears the last failure of a write that never landed. */
  readonly onGiveUp: (e: unknown) => void;
  readonly now?: () => number;
}

const DEFAULT_DELAYS_MS = [100, 200, 400, 800, 1_600, 2_000];

/**
 * Makes a bookkeeping write now and resolves with whether it landed; when it failed for a
 * retryable reason, keeps making it in the background until it lands or `giveUpAfterMs` passed.
 * For writes that a call must not fail on and must not leave undone: the stored result of a
 * request that ran (its caller has the answer; a repeat of its idempotency key waits for that
 * result) and the release of a key or a budget reservation of a request that never ran. A
 * Redis down for a few seconds would otherwise leave a key that a repeat joins and waits on
 * until its deadline, or budget held for an hour. Non-retryable failures of the first attempt
 * are thrown.
 */
export async function writeEventually(write: () => Promise<unknown>, options: WriteEventuallyOptions): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (e) {
    if (!options.retryable(e)) throw e;
  }
  const now = options.now ?? Date.now;
  const delays = options.delaysMs ?? DEFAULT_DELAYS_MS;
  const giveUpAt = now() + options.giveUpAfterMs;
  void (async () => {
    for (let attempt = 0; ; attempt++) {
      // Unref'd: a retry never keeps a stopping process alive.
      await sleep(delays[Math.min(attempt, delays.length - 1)]!, undefined, { ref: false });
      try {
        await write();
        return;
      } catch (e) {
        if (!options.retryable(e) || now() >= giveUpAt) return options.onGiveUp(e);
      }
    }
  })();
  return false;
}
