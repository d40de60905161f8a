import { describe, expect, it } from 'vitest';
import { createEngine } from './domain/engine.js';
import { createSimClock, type SimClock } from './domain/sim-clock.js';
import type { StepReport } from './domain/engine.js';
import { startStepLoop } from './step-loop.js';

/** Every step 10 ms, whatever it holds, so step ends are easy to read. */
const perf = { mixedMs: () => 10, decodeMs: () => 5, prefillMs: () => 5, chunkContextMs: () => 0 };
const engine = () => createEngine({ perf, kvCapacityTokens: 10_000, maxRunning: 4 });
const flush = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('startStepLoop', () => {
  it('runs steps back to back in simulated time once woken, and sleeps when the engine is empty', async () => {
    const e = engine();
    const steps: StepReport[] = [];
    const loop = startStepLoop({ engine: e, clock: createSimClock({ speed: 'max' }), hung: () => false, slowdown: () => 1, onStep: (s) => steps.push(s) });
    e.enqueue({ id: 'a', promptTokens: 8, maxTokens: 3, arrivalMs: loop.arrivalMs() });
    loop.wake();
    await flush();
    // One prefill step that samples the first token, then a decode per further token.
    expect(steps.map((s) => s.endMs)).toEqual([10, 20, 30]);
    expect(steps.at(-1)!.finished.map((r) => r.id)).toEqual(['a']);
    expect(loop.cursor).toBe(30);
    await loop.stop();
  });

  it('runs no step while hung, and resumes with its slowdown once the hang is over', async () => {
    const e = engine();
    let hung = true;
    const steps: StepReport[] = [];
    const loop = startStepLoop({ engine: e, clock: createSimClock({ speed: 'max' }), hung: () => hung, slowdown: () => 2, onStep: (s) => steps.push(s) });
    e.enqueue({ id: 'a', promptTokens: 8, maxTokens: 2, arrivalMs: 0 });
    loop.wake();
    await flush();
    expect(steps).toEqual([]);
    hung = false;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(steps.map((s) => s.durationMs)).toEqual([20, 20]);
    await loop.stop();
  });

  it('drops the step in progress when stopped: its tokens are never due', async () => {
    const e = engine();
    const steps: StepReport[] = [];
    let due: (() => void) | undefined;
    // A clock whose time comes only when the test says, so stop() surely lands inside the step.
    const clock: SimClock = { speed: 1, now: () => 0, until: () => new Promise<void>((resolve) => (due = resolve)), fromReal: (ms) => ms };
    const loop = startStepLoop({ engine: e, clock, hung: () => false, slowdown: () => 1, onStep: (s) => steps.push(s) });
    e.enqueue({ id: 'a', promptTokens: 8, maxTokens: 5, arrivalMs: 0 });
    loop.wake();
    await flush();
    expect(due).toBeDefined();
    const stopped = loop.stop();
    due!();
    await stopped;
    expect(steps).toEqual([]);
    expect(loop.cursor).toBe(0);
  });
});
