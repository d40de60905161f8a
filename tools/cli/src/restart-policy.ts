/** When a supervised service that exited on its own is started again. */
export interface RestartPolicy {
  /** Delay before the first restart after a healthy run. Default 250 ms. */
  readonly initialDelayMs: number;
  /** Each crash in a row doubles the delay, up to this. Default 10 s. */
  readonly maxDelayMs: number;
  /** A run at least this long counts as healthy: the next crash starts the count again. Default 30 s. */
  readonly healthyAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 250, maxDelayMs: 10_000, healthyAfterMs: 30_000 };

export interface RestartDecision {
  /** Wait this long, then start the service again. */
  readonly delayMs: number;
  /** Crashes in a row, this one included: 1 after a healthy run. */
  readonly crashes: number;
}

/**
 * Exponential backoff with a cap, and no give-up: a service that crashes at once keeps being
 * retried every `maxDelayMs` (whatever it waits for may come back), while one that ran for a
 * while is restarted quickly, since it likely died of something passing.
 *
 * @param crashesBefore crashes in a row before this one (0 for a service never restarted)
 * @param upForMs how long the process that just exited had run
 */
export function decideRestart(crashesBefore: number, upForMs: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  const crashes = upForMs >= policy.healthyAfterMs ? 1 : crashesBefore + 1;
  const delayMs = Math.min(policy.initialDelayMs * 2 ** (crashes - 1), policy.maxDelayMs);
  return { delayMs, crashes };
}
