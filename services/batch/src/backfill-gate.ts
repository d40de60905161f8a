import type { WorkerHeartbeat } from '@switchyard/contracts';
import { backfillLimit, type BackfillRules, type BackfillView } from './domain/backfill.js';

export interface BackfillGateDeps {
  /** The workers' latest heartbeats (the `pools` KV bucket, mirrored). */
  readonly heartbeats: () => Iterable<WorkerHeartbeat>;
  readonly now: () => number;
  readonly rules: BackfillRules;
  /** How often a waiting request looks again without being woken. Default 250 ms. */
  readonly recheckMs?: number;
}

/**
 * Lets batch requests into the fleet only while it has idle room (see `backfillLimit`).
 * Waiters are woken by every heartbeat and every release, and look again on a short timer,
 * so a request also stops waiting soon after its batch is cancelled.
 */
export function createBackfillGate(deps: BackfillGateDeps) {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const recheckMs = deps.recheckMs ?? 250;
  const view = (): BackfillView => backfillLimit(deps.heartbeats(), deps.now(), inFlight, deps.rules);
  const wake = () => {
    const woken = waiters;
    waiters = [];
    woken.forEach((w) => w());
  };
  return {
    view,
    inFlight: () => inFlight,
    /** Heartbeats changed: the limit may have risen. */
    wake,
    /**
     * Resolves with a release function once there is room, or undefined as soon as
     * `stillWanted()` says the request should not start any more.
     */
    async enter(stillWanted: () => boolean): Promise<(() => void) | undefined> {
      for (;;) {
        if (!stillWanted()) return undefined;
        if (inFlight < view().limit) {
          inFlight++;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            inFlight--;
            wake();
          };
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, recheckMs);
          waiters.push(() => (clearTimeout(timer), resolve()));
        });
      }
    },
  };
}

export type BackfillGate = ReturnType<typeof createBackfillGate>;
