import { describe, expect, it } from 'vitest';
import { createSimClock, parseSpeed } from './sim-clock.js';

/** A fake real clock: sleeping advances it by the time asked plus `slackMs`, as timers overshoot. */
function fakeReal(slackMs = 0) {
  let real = 1_000;
  const sleeps: number[] = [];
  return {
    realNow: () => real,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      real += ms + slackMs;
    },
    advance: (ms: number) => (real += ms),
    sleeps,
  };
}

describe('simulated clock', () => {
  it('at speed 10 sleeps a tenth of each simulated step, and follows real time x 10 while idle', async () => {
    const real = fakeReal();
    const clock = createSimClock({ speed: 10, ...real });
    expect(clock.now()).toBe(0);
    await clock.until(73.5);
    expect(real.sleeps).toEqual([expect.closeTo(7.35, 9)]);
    expect(clock.now()).toBeCloseTo(73.5, 9);
    real.advance(20);
    expect(clock.now()).toBeCloseTo(273.5, 9);
    expect(clock.fromReal(20)).toBe(200);
  });

  it('does not let timer slack add up: later steps sleep less to stay on schedule', async () => {
    const real = fakeReal(0.4);
    const clock = createSimClock({ speed: 1, ...real });
    for (let i = 1; i <= 10; i++) await clock.until(i * 10);
    // Ten 10 ms steps end 100 ms after the start plus one timer's slack, not ten.
    expect(real.realNow() - 1_000).toBeCloseTo(100.4, 9);
    expect(real.sleeps.slice(1)).toEqual(Array.from({ length: 9 }, () => expect.closeTo(9.6, 9)));
  });

  it('re-anchors when the host falls far behind, so simulated time never jumps over a gap', async () => {
    const real = fakeReal();
    const clock = createSimClock({ speed: 1, ...real, maxLagMs: 50 });
    await clock.until(10);
    real.advance(500); // the process stalled
    await clock.until(20);
    expect(clock.now()).toBe(20);
    await clock.until(30);
    expect(real.sleeps.at(-1)).toBe(10);
  });

  it("at 'max' never sleeps, yields once a slice of real time went to steps, and moves only with the steps", async () => {
    const real = fakeReal();
    let yields = 0;
    const clock = createSimClock({ speed: 'max', ...real, sliceMs: 1, yieldNow: async () => void yields++ });
    await clock.until(1_000_000);
    expect(yields).toBe(0);
    real.advance(1);
    await clock.until(1_000_010);
    await clock.until(1_000_020);
    expect(yields).toBe(1);
    real.advance(5_000);
    expect(clock.now()).toBe(1_000_020);
    expect(real.sleeps).toEqual([]);
    expect(clock.fromReal(7)).toBe(7);
  });

  it('parses speeds', () => {
    expect(parseSpeed('10')).toBe(10);
    expect(parseSpeed('0.5')).toBe(0.5);
    expect(parseSpeed('MAX')).toBe('max');
    expect(() => parseSpeed('0')).toThrow(/positive/);
    expect(() => parseSpeed('fast')).toThrow(/positive/);
  });
});
