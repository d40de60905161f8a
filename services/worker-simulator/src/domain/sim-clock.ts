/** How fast simulated time runs: 1 = real time, 10 = ten times faster, 'max' = no sleeping at all. */
export type Speed = number | 'max';

/** Parses `WORKER_SPEED`-style text: a positive number or `max`. */
export function parseSpeed(text: string): Speed {
  if (text.trim().toLowerCase() === 'max') return 'max';
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`speed must be a positive number or "max", got "${text}"`);
  return v;
}

export interface SimClockOptions {
  readonly speed: Speed;
  /** Real milliseconds (monotonic). Default `performance.now`. */
  readonly realNow?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Lets other work run between steps at speed 'max'. Default `setImmediate`. */
  readonly yieldNow?: () => Promise<void>;
  /**
   * At speed 'max': real ms of steps run back to back before the clock yields to other work.
   * Default 1. Yielding after every step made each step its own turn of the event loop, with
   * its own socket writes; a slice lets a step's outputs leave with its neighbours' while new
   * work still gets in within a millisecond.
   */
  readonly sliceMs?: number;
  /**
   * How far real time may fall behind before the clock gives up catching up and re-anchors,
   * in real ms. Behind by less, later steps sleep less until real time is back on schedule. Default 100.
   */
  readonly maxLagMs?: number;
}

/** Maps simulated milliseconds (every time a worker reports) onto real ones. */
export interface SimClock {
  readonly speed: Speed;
  /**
   * Simulated now. Follows real time x speed, never runs backwards; at 'max' it moves only
   * when `until` moves it, since without sleeping real time says nothing about simulated time.
   */
  now(): number;
  /**
   * Resolves once simulated time `simMs` is due in real time, and makes it the clock's floor.
   * At 'max' at once, yielding to other work once per `sliceMs`.
   */
  until(simMs: number): Promise<void>;
  /** Simulated milliseconds that `realMs` real milliseconds stand for (real ms as is at 'max'). */
  fromReal(realMs: number): number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const defaultYield = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A worker's simulated clock. Simulated time is the truth of the model (step times from the
 * profiles); real time only paces it. Steps are scheduled at absolute real targets so timer
 * slack does not add up; when the host cannot keep up (more than `maxLagMs` behind), the clock
 * re-anchors, so the simulated GPU stays busy back to back and only real time stretches.
 */
export function createSimClock(options: SimClockOptions): SimClock {
  const realNow = options.realNow ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;
  const yieldNow = options.yieldNow ?? defaultYield;
  const maxLagMs = options.maxLagMs ?? 100;
  const sliceMs = options.sliceMs ?? 1;
  const { speed } = options;
  let anchor = { real: realNow(), sim: 0 };
  let floor = 0;
  let sliceStart = anchor.real;

  const mapped = (real: number) => (speed === 'max' ? floor : anchor.sim + (real - anchor.real) * speed);

  return {
    speed,
    now() {
      floor = Math.max(floor, mapped(realNow()));
      return floor;
    },
    async until(simMs) {
      if (speed === 'max') {
        floor = Math.max(floor, simMs);
        if (realNow() - sliceStart >= sliceMs) {
          await yieldNow();
          sliceStart = realNow();
        }
        return;
      }
      const target = anchor.real + (simMs - anchor.sim) / speed;
      const delay = target - realNow();
      if (delay > 0) await sleep(delay);
      const now = realNow();
      if (now - target > maxLagMs) anchor = { real: now, sim: simMs };
      floor = Math.max(floor, simMs);
    },
    fromReal: (realMs) => (speed === 'max' ? realMs : realMs * speed),
  };
}
