/**
 * A circuit breaker per upstream: `threshold` platform failures in a row (refused connections,
 * 5xx, timeouts, broken streams) open it, which takes the upstream out of placement; after
 * `openMs` a probe may run, and its success closes it, its failure opens it again for twice as
 * long (up to `maxOpenMs`). A 429 is the upstream's capacity talking, not a failure: it never
 * opens the breaker (the adapter pauses instead), and neither does a caller's cancel.
 */
export interface BreakerOptions {
  /** Failures in a row that open it. Default 3. */
  readonly threshold?: number;
  /** First time open before a probe, ms. Default 2,000. */
  readonly openMs?: number;
  /** Longest time open before a probe, ms. Default 30,000. */
  readonly maxOpenMs?: number;
}

export type BreakerState =
  | { readonly kind: 'closed'; readonly failures: number }
  | { readonly kind: 'open'; readonly sinceMs: number; readonly untilMs: number; readonly openMs: number; readonly lastFailure: string };

export const CLOSED: BreakerState = { kind: 'closed', failures: 0 };

const settings = (o: BreakerOptions) => ({ threshold: o.threshold ?? 3, openMs: o.openMs ?? 2_000, maxOpenMs: o.maxOpenMs ?? 30_000 });

/** The breaker after a call that reached the upstream and worked. */
export const afterSuccess = (): BreakerState => CLOSED;

/** The breaker after a platform failure (`what` names it for the log and the heartbeat). */
export function afterFailure(state: BreakerState, nowMs: number, what: string, options: BreakerOptions = {}): BreakerState {
  const o = settings(options);
  if (state.kind === 'open') return state;
  const failures = state.failures + 1;
  if (failures < o.threshold) return { kind: 'closed', failures };
  return { kind: 'open', sinceMs: nowMs, untilMs: nowMs + o.openMs, openMs: o.openMs, lastFailure: what };
}

/** Whether a probe is due: the breaker is open and its time is up. */
export const probeDue = (state: BreakerState, nowMs: number): boolean => state.kind === 'open' && nowMs >= state.untilMs;

/** The breaker after a probe: closed when it worked, open twice as long (capped) when not. */
export function afterProbe(state: BreakerState, ok: boolean, nowMs: number, what: string, options: BreakerOptions = {}): BreakerState {
  if (ok) return CLOSED;
  const o = settings(options);
  const openMs = Math.min(o.maxOpenMs, state.kind === 'open' ? state.openMs * 2 : o.openMs);
  return { kind: 'open', sinceMs: state.kind === 'open' ? state.sinceMs : nowMs, untilMs: nowMs + openMs, openMs, lastFailure: what };
}

export const isOpen = (state: BreakerState): boolean => state.kind === 'open';
