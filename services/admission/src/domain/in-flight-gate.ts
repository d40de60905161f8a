import { DomainError } from '@switchyard/contracts';

export interface InFlightGate {
  /**
   * Waits for one of `limit` places of `key` (a tenant and tier), in arrival order; resolves
   * with the function that gives the place back. Refuses at once when `maxWaiting` already
   * wait, and gives up when `signal` aborts.
   */
  enter(key: string, limit: number, signal?: AbortSignal): Promise<() => void>;
  /** Calls of `key` running now. */
  running(key: string): number;
}

interface Line {
  running: number;
  readonly waiting: Array<() => void>;
}

/**
 * Paces each tenant's calls per tier in this process: at most `limit` run at once, the rest
 * wait here, where waiting costs nothing downstream. Without it one tenant's burst of hundreds
 * of calls fills every queue between admission and the GPUs, and every other tenant's first
 * token waits behind all of it.
 */
export function createInFlightGate(maxWaiting = 10_000): InFlightGate {
  const lines = new Map<string, Line>();
  const release = (key: string, line: Line) => () => {
    const next = line.waiting.shift();
    if (next) return next();
    line.running--;
    if (line.running === 0) lines.delete(key);
  };
  return {
    enter(key, limit, signal) {
      let line = lines.get(key);
      if (!line) lines.set(key, (line = { running: 0, waiting: [] }));
      if (line.running < limit) {
        line.running++;
        return Promise.resolve(release(key, line));
      }
      if (signal?.aborted) return Promise.reject(new DomainError('FAILED_PRECONDITION', 'client cancelled the call'));
      if (line.waiting.length >= maxWaiting) {
        return Promise.reject(
          new DomainError('RESOURCE_EXHAUSTED', `too many calls waiting for this tenant and tier (${maxWaiting}); slow down`, {
            retryAfterMs: 1_000,
            retryable: true,
          }),
        );
      }
      const current = line;
      return new Promise((resolve, reject) => {
        const take = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release(key, current));
        };
        const onAbort = () => {
          const i = current.waiting.indexOf(take);
          if (i >= 0) current.waiting.splice(i, 1);
          reject(new DomainError('FAILED_PRECONDITION', 'client cancelled the call'));
        };
        current.waiting.push(take);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    running: (key) => lines.get(key)?.running ?? 0,
  };
}
