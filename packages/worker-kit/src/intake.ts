import type { DurablePuller, PulledMessage } from '@switchyard/bus';

/** Wakes a waiting loop early; waiting also ends after a timeout so nothing sleeps forever. */
export interface Signal {
  wait(timeoutMs: number): Promise<void>;
  notify(): void;
  /** Waits not ended yet. */
  readonly waiting: number;
}

export function createSignal(): Signal {
  // A wait that times out leaves: an idle worker's loop waits out its timeout once a second
  // with nobody notifying, and each wait it left here was kept for the life of the process
  // (the soak's heap snapshots found ~1,800 in 8 minutes, with their timers and promises).
  const waiters = new Set<() => void>();
  return {
    wait: (timeoutMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      }),
    notify() {
      const woken = [...waiters];
      waiters.clear();
      for (const w of woken) w();
    },
    get waiting() {
      return waiters.size;
    },
  };
}

export interface IntakeDeps {
  /** Where batches come from (the worker's own queue first, then its pool's), each pulled by its own loop. */
  readonly pullers: readonly DurablePuller[];
  /** Batches the worker can take now; 0 pulls nothing until `wake`. */
  readonly room: () => number;
  /** Takes one pulled batch; it is the taker's to ack or nak from here on. */
  readonly accept: (message: PulledMessage) => void;
  readonly onError: (error: unknown, context: string) => void;
  /**
   * Batches asked for in one pull at most. Default 1: a batch may hold many requests, so taking
   * one and looking at the room again keeps what a worker holds beyond its room to one batch.
   */
  readonly maxPull?: number;
}

export interface Intake {
  /** Starts the pull loop. */
  start(): void;
  /** Room may have grown: pull again now rather than at the next poll. */
  wake(): void;
  /** Stops pulling after the open pull ends (at most ~1 s); everything pulled was accepted. */
  stop(): Promise<void>;
  /** Stops at once, as a dying process does: a batch already on its way is left unacked. */
  abandon(): void;
}

/**
 * Pulls batches only while the worker has room, one at a time from each queue (so a worker
 * holds at most one batch per queue beyond its room), and the rest stay on the stream for
 * other workers (and the batcher sees that the pool is full). Pulls expire after 1 s (the client's
 * minimum): an idle worker re-asks once a second, and a worker that stops taking work (drain,
 * shutdown) is past its last pull within a second, without dropping what is already on its way.
 */
export function createIntake(deps: IntakeDeps): Intake {
  const maxPull = deps.maxPull ?? 1;
  const signal = createSignal();
  let stopped = false;
  let done: Promise<void> = Promise.resolve();

  const loop = async (puller: DurablePuller) => {
    while (!stopped) {
      const room = deps.room();
      if (room <= 0) {
        await signal.wait(1_000);
        continue;
      }
      try {
        for await (const message of puller.pull(Math.min(room, maxPull), 1_000)) deps.accept(message);
      } catch (e) {
        if (stopped) break;
        deps.onError(e, 'pulling batches failed; retrying');
        await signal.wait(500);
      }
    }
  };

  return {
    start() {
      done = Promise.all(deps.pullers.map(loop)).then(() => {});
    },
    wake: () => signal.notify(),
    async stop() {
      stopped = true;
      signal.notify();
      await done;
    },
    abandon() {
      stopped = true;
      for (const p of deps.pullers) p.stop();
      signal.notify();
    },
  };
}
