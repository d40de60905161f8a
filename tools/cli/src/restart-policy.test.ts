import { describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_POLICY, decideRestart } from './restart-policy.js';

/** Delays of `n` crashes in a row, each after running `upForMs`. */
const loop = (n: number, upForMs: number) => {
  const delays: number[] = [];
  let crashes = 0;
  for (let i = 0; i < n; i++) {
    const d = decideRestart(crashes, upForMs);
    delays.push(d.delayMs);
    crashes = d.crashes;
  }
  return delays;
};

describe('decideRestart', () => {
  it('restarts a service that ran a while after the initial delay', () => {
    expect(decideRestart(0, 5 * 60_000)).toEqual({ delayMs: 250, crashes: 1 });
  });

  it('doubles the delay for each crash in a row, up to the cap, and keeps retrying there', () => {
    expect(loop(9, 1_000)).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    expect(decideRestart(10_000, 0)).toEqual({ delayMs: 10_000, crashes: 10_001 });
  });

  it('starts the count again after a healthy run', () => {
    expect(decideRestart(6, DEFAULT_RESTART_POLICY.healthyAfterMs - 1).delayMs).toBe(10_000);
    expect(decideRestart(6, DEFAULT_RESTART_POLICY.healthyAfterMs)).toEqual({ delayMs: 250, crashes: 1 });
  });

  it('follows the policy it is given', () => {
    const policy = { initialDelayMs: 10, maxDelayMs: 35, healthyAfterMs: 100 };
    expect([0, 1, 2, 3].map((before) => decideRestart(before, 50, policy).delayMs)).toEqual([10, 20, 35, 35]);
  });
});
