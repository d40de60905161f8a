/** A request that LIFECYCLE says completed (`requests.completed.<tenant>`). */
export interface Completion {
  readonly requestId: string;
  readonly tenant: string;
  /** When the completion was stored on the stream. */
  readonly completedMs: number;
}

/** Completed requests held against metered usage: every one must have been metered. */
export interface CompletionCheck {
  /** Completions compared with metered usage. */
  readonly checked: number;
  /** Completions within `graceMs` of the check, not compared: metering may not have caught up with them. */
  readonly recent: number;
  readonly graceMs: number;
  /** Completed requests with no metered usage, in stream order. */
  readonly unmetered: readonly Completion[];
}

/** Metering lags completions by well under a second when healthy; a minute leaves room for a busy one. */
export const COMPLETION_GRACE_MS = 60_000;

export const emptyCompletionCheck = (graceMs = COMPLETION_GRACE_MS): CompletionCheck => ({ checked: 0, recent: 0, graceMs, unmetered: [] });

/**
 * Adds a batch of completions to the check: those older than the grace must have a request id
 * in `metered` (the request ids metering recorded usage for); newer ones are only counted. A
 * request completed twice in one batch (a replayed terminal event) is counted once.
 */
export function checkCompletions(check: CompletionCheck, batch: readonly Completion[], metered: ReadonlySet<string>, nowMs: number): CompletionCheck {
  const seen = new Set<string>();
  let checked = 0;
  let recent = 0;
  const unmetered: Completion[] = [];
  for (const c of batch) {
    if (seen.has(c.requestId)) continue;
    seen.add(c.requestId);
    if (c.completedMs > nowMs - check.graceMs) {
      recent++;
      continue;
    }
    checked++;
    if (!metered.has(c.requestId)) unmetered.push(c);
  }
  return { graceMs: check.graceMs, checked: check.checked + checked, recent: check.recent + recent, unmetered: [...check.unmetered, ...unmetered] };
}
