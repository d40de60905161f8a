import { createSignal } from '@switchyard/worker-kit';
import type { Engine, StepReport } from './domain/engine.js';
import type { SimClock } from './domain/sim-clock.js';

export interface StepLoopDeps {
  readonly engine: Pick<Engine, 'step'>;
  readonly clock: SimClock;
  /** True while the GPU is hung: no step runs; looked at again every 100 ms real time. */
  readonly hung: () => boolean;
  /** Every step this many times longer (an injected slowdown); 1 normally. */
  readonly slowdown: () => number;
  /** A step's tokens are due: called once simulated time has reached its end. */
  readonly onStep: (step: StepReport) => void;
}

/** One GPU's step loop, shared by the NATS worker and the HTTP engine server. */
export interface StepLoop {
  /** End of the last step, simulated ms. */
  readonly cursor: number;
  /** Simulated time at which a sequence enqueued now reaches the engine. */
  arrivalMs(): number;
  /** Sequences were enqueued: an idle loop steps at once instead of at its next look. */
  wake(): void;
  /** Ends the loop; a step in progress is dropped (its tokens are never due). Resolves once it has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop ends; rejects if `onStep` threw. */
  readonly done: Promise<void>;
}

/**
 * Runs the engine step after step in simulated time: each step starts where the last ended while
 * the GPU is busy, or at the clock's now once it has been idle, and its tokens are due when the
 * clock reaches its end (real time paced by the speed factor). Idle, it looks again on `wake` or
 * once a second.
 */
export function startStepLoop(deps: StepLoopDeps): StepLoop {
  const { engine, clock } = deps;
  const signal = createSignal();
  let cursor = clock.now();
  let busy = false;
  let stopped = false;
  const arrivalMs = () => (busy ? cursor : Math.max(cursor, clock.now()));

  async function run() {
    while (!stopped) {
      if (deps.hung()) {
        busy = false;
        await signal.wait(100);
        continue;
      }
      const step = engine.step(arrivalMs(), deps.slowdown());
      if (!step) {
        busy = false;
        await signal.wait(1_000);
        continue;
      }
      busy = true;
      await clock.until(step.endMs);
      if (stopped) return;
      cursor = step.endMs;
      deps.onStep(step);
    }
  }

  const done = run();
  return {
    get cursor() {
      return cursor;
    },
    arrivalMs,
    wake: () => signal.notify(),
    async stop() {
      stopped = true;
      signal.notify();
      await done.catch(() => {});
    },
    done,
  };
}
