/**
 * How long before our deadline a caller's leaving is read as its own deadline firing. A gRPC
 * caller's clock starts when it sends the call and ours when the call arrives, so its deadline
 * fires first and reaches us as a plain cancel; on a busy machine the call may wait on our
 * event loop for hundreds of milliseconds before we see it.
 */
export const CALLER_DEADLINE_SKEW_MS = 500;

/**
 * Whether a caller that left at `leftAtMs` left because its deadline passed: the request then
 * ends EXPIRED, as it would have a moment later, not CANCELLED. Both bill what was streamed.
 */
export function leftAtDeadline(deadlineUnixMs: number, leftAtMs: number): boolean {
  return deadlineUnixMs > 0 && deadlineUnixMs - leftAtMs <= CALLER_DEADLINE_SKEW_MS;
}
