import { describe, expect, it } from 'vitest';
import { parseTrace } from './domain/trace-format.js';
import type { LoadCall, LoadCaller, LoadCallResult } from './load-callers.js';
import { runLoad, type LoadOptions } from './load.js';

/** A pinned clock: sleeping moves it, and a call ends `latencyMs` after it was sent. */
function fakeWorld(latencyMs: number, answer: (c: LoadCall) => LoadCallResult) {
  let t = 1_000_000;
  const timers: { at: number; fire: () => void }[] = [];
  const calls: { at: number; call: LoadCall }[] = [];
  const settle = (until: number) => {
    timers.sort((a, b) => a.at - b.at);
    while (timers.length && timers[0]!.at <= until) {
      const next = timers.shift()!;
      t = Math.max(t, next.at);
      next.fire();
    }
    t = Math.max(t, until);
  };
  const caller: LoadCaller = {
    promptOverheadTokens: 0,
    call: (c) =>
      new Promise((resolve) => {
        calls.push({ at: t, call: c });
        timers.push({ at: t + latencyMs, fire: () => resolve(answer(c)) });
      }),
    close: () => undefined,
  };
  const deps = {
    callers: { acme: caller },
    now: () => t,
    sleep: async (ms: number) => settle(t + ms),
  };
  return { deps, calls, drain: () => settle(Number.POSITIVE_INFINITY) };
}

const options = (csv: string, over: Partial<LoadOptions> = {}): LoadOptions => ({
  trace: parseTrace(csv),
  traceFile: 't.csv',
  protocol: 'grpc',
  model: 'llama-3.1-8b',
  speed: 2,
  tierMix: { realtime: 1, internal: 0, batch: 0 },
  seed: 1,
  maxInFlight: 100,
  maxPromptTokens: 32_768,
  maxOutputTokens: 4_096,
  timeoutMs: 60_000,
  sloTtftMs: { realtime: 1_000, internal: 5_000, batch: 600_000 },
  ...over,
});

const done = (c: LoadCall): LoadCallResult => ({
  outcome: 'completed',
  ttftMs: 50,
  e2eMs: 200,
  inputTokens: 1_000,
  cachedInputTokens: 0,
  outputTokens: c.maxTokens,
});

describe('runLoad', () => {
  it('sends each request when it is due at the chosen speed, without waiting for earlier ones', async () => {
    const world = fakeWorld(10_000, done);
    const run = runLoad(options('timestamp,input_tokens,output_tokens\n0,1000,10\n1000,1000,10\n3000,1000,10\n'), world.deps);
    await new Promise((r) => setTimeout(r, 0));
    // All three went out before the first (10 s) answer came back: open loop.
    expect(world.calls.map((c) => c.at - world.calls[0]!.at)).toEqual([0, 500, 1_500]);
    world.drain();
    const result = await run;
    expect(result.records.map((r) => [r.scheduledMs, r.sentMs])).toEqual([
      [0, 0],
      [500, 500],
      [1_500, 1_500],
    ]);
    expect(result.maxSendLagMs).toBe(0);
    expect(result.all.completed).toBe(3);
  });

  it('asks for a prompt of the trace size and its output length', async () => {
    const world = fakeWorld(1, done);
    const run = runLoad(options('timestamp,input_tokens,output_tokens,tenant,tier\n0,12,7,acme,internal\n'), world.deps);
    await new Promise((r) => setTimeout(r, 0));
    world.drain();
    await run;
    expect(world.calls[0]!.call).toMatchObject({ maxTokens: 7, tier: 'internal', model: 'llama-3.1-8b' });
    expect(world.calls[0]!.call.prompt.split(' ').filter(Boolean)).toHaveLength(11);
  });

  it('drops what is over --max-in-flight and says so', async () => {
    const world = fakeWorld(60_000, done);
    const rows = Array.from({ length: 10 }, (_, i) => `${i},10,1`).join('\n');
    const run = runLoad(options(`timestamp,input_tokens,output_tokens\n${rows}\n`, { maxInFlight: 4 }), world.deps);
    await new Promise((r) => setTimeout(r, 0));
    world.drain();
    const result = await run;
    expect(result.all).toMatchObject({ requests: 10, sent: 4, completed: 4, dropped: 6 });
    expect(result.all.failedBy).toEqual({ 'dropped by the load generator: 4 requests in flight (--max-in-flight)': 6 });
  });

  it('prices completed usage with the price book, batch at its discount', async () => {
    const world = fakeWorld(1, done);
    const csv = 'timestamp,input_tokens,output_tokens,tenant,tier\n0,1000,1000,acme,realtime\n0,1000,1000,acme,batch\n';
    const run = runLoad(options(csv), world.deps);
    await new Promise((r) => setTimeout(r, 0));
    world.drain();
    const result = await run;
    // llama-3.1-8b: 200 + 600 micros per 1K in / out tokens, so 800 micros; batch half.
    expect(result.tiers.realtime!.costUsd).toBeCloseTo(0.0008, 10);
    expect(result.tiers.batch!.costUsd).toBeCloseTo(0.0004, 10);
    expect(result.tiers.realtime!.costPer1kTokensUsd).toBeCloseTo(0.0004, 10);
    expect(result.cost.priced).toBe(true);
    const unpriced = fakeWorld(1, done);
    const run2 = runLoad(options(csv, { model: 'auto' }), unpriced.deps);
    await new Promise((r) => setTimeout(r, 0));
    unpriced.drain();
    expect((await run2).cost).toMatchObject({ priced: false });
  });
});
