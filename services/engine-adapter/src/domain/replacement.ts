import type { RequestSpec } from '@switchyard/contracts';

/**
 * Whether a failed attempt may be placed on another pool instead of failing: nothing reached
 * the caller yet (no chunk sent), it was not re-placed before (once per request), and its
 * deadline leaves time to run elsewhere.
 */
export function mayReplace(request: RequestSpec, chunksSent: number, nowMs: number): boolean {
  if (chunksSent > 0 || request.replacedFrom !== '') return false;
  return request.deadlineUnixMs === 0 || request.deadlineUnixMs > nowMs;
}
