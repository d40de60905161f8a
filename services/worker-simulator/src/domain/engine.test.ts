import { createPerfModel, loadProfiles } from '@switchyard/perf-model';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineLoad, type SequenceResult, type StepReport } from './engine.js';

const profiles = await loadProfiles();
const EIGHT_B = 'llama-3.1-8b';
const h100 = profiles['h100-80gb'];
const perf = createPerfModel(h100.rows, h100.meta, EIGHT_B);

/** The measured median of one 8B/H100 row. */
const table = (phase: 'prefill' | 'decode' | 'mixed', batch: number, context: number, newTokens?: number): number => {
  const row = h100.rows.find(
    (r) => r.model === EIGHT_B && r.phase === phase && r.batch === batch && r.context === context && (newTokens === undefined || r.newTokens === newTokens),
  );
  if (!row) throw new Error(`no ${phase} row ${batch}/${context}/${newTokens}`);
  return row.ms;
};
/** Decode step at batch 64 read off the table: linear between the measured context rows around `context`. */
const tableDecode64 = (context: number): number => {
  const [lo, hi] = [1024, 2048];
  if (context < lo || context > hi) throw new Error(`context ${context} outside the bracket used here`);
  return table('decode', 64, lo) + ((context - lo) / (hi - lo)) * (table('decode', 64, hi) - table('decode', 64, lo));
};

interface Run {
  steps: StepReport[];
  results: SequenceResult[];
  makespanMs: number;
  maxKvUsed: number;
  /** The engine's load after each step. */
  loads: EngineLoad[];
}

/** Drives an engine to completion the way a worker does: steps back to back in simulated time. */
function drain(engine: Engine, slowdown = 1): Run {
  const run: Run = { steps: [], results: [], makespanMs: 0, maxKvUsed: 0, loads: [] };
  for (let now = 0, step = engine.step(now, slowdown); step; now = step.endMs, step = engine.step(now, slowdown)) {
    run.steps.push(step);
    run.results.push(...step.finished);
    run.makespanMs = step.endMs;
    const load = engine.load();
    run.maxKvUsed = Math.max(run.maxKvUsed, load.kvUsed);
    run.loads.push(load);
    if (run.steps.length > 100_000) throw new Error('engine does not finish');
  }
  return run;
}

function fed(n: number, promptTokens: number, maxTokens: number, options: Partial<Parameters<typeof createEngine>[0]> = {}): Engine {
  const engine = createEngine({ perf, kvCapacityTokens: perf.kvCapacityTokens(), maxRunning: 64, ...options });
  for (let i = 0; i < n; i++) expect(engine.enqueue({ id: `r${i}`, promptTokens, maxTokens, arrivalMs: 0 })).toEqual({ ok: true });
  return engine;
}
const outputTokens = (run: Run) => run.results.reduce((sum, r) => sum + r.outputTokens, 0);
const tokensPerS = (run: Run) => (outputTokens(run) / run.makespanMs) * 1000;

describe('64 concurrent 8B requests of 1,024 + 256 tokens on an H100', () => {
  const run = drain(fed(64, 1024, 256));

  it('runs every full decode step in the time the decode table gives for batch 64 at its context', () => {
    const full = run.steps.filter((s) => s.decodeBatch === 64 && s.prefillTokens === 0);
    expect(full.length).toBeGreaterThan(200);
    for (const s of full) {
      expect(s.decodeContext).toBeGreaterThanOrEqual(1024);
      expect(s.decodeContext).toBeLessThan(1024 + 256);
      expect(s.durationMs / tableDecode64(s.decodeContext)).toBeCloseTo(1, 9);
    }
    // Steady-state throughput is the table's: 64 tokens per measured step.
    const steady = (64 / tableDecode64(1024 + 128)) * 1000;
    const mid = full[Math.floor(full.length / 2)]!;
    expect(((64 / mid.durationMs) * 1000) / steady).toBeGreaterThan(0.97);
    expect(((64 / mid.durationMs) * 1000) / steady).toBeLessThan(1.03);
  });

  it('prefills under the token budget in mixed steps and delivers the throughput the profile implies', () => {
    const mixed = run.steps.filter((s) => s.prefillTokens > 0);
    expect(mixed.every((s) => s.prefillTokens + s.decodeBatch <= 2048)).toBe(true);
    expect(mixed.reduce((sum, s) => sum + s.prefillTokens, 0)).toBe(64 * 1024);
    // Back of the envelope from the table: 64 x 1,024 prompt tokens in 2,048-token mixed steps
    // alongside ~32 decodes on average, then 256 decode steps at batch 64 and mean context ~1,152.
    const expectedMs = ((64 * 1024) / 2048) * table('mixed', 32, 1024, 32 + 2048) + 256 * tableDecode64(1024 + 128);
    expect(run.makespanMs / expectedMs).toBeGreaterThan(0.95);
    expect(run.makespanMs / expectedMs).toBeLessThan(1.05);
    expect(tokensPerS(run) / ((64 * 256 * 1000) / expectedMs)).toBeCloseTo(expectedMs / run.makespanMs, 9);
    // Each mixed step is timed as one step sharing the matmuls, as the mixed rows measure, not as its parts apart.
    for (const s of mixed.filter((m) => m.decodeBatch > 0)) {
      expect(s.durationMs).toBeLessThan(perf.prefillMs(s.prefillTokens) + perf.decodeMs(s.decodeBatch, s.decodeContext));
    }
  });

  it('attributes every step to its sequences: GPU-ms sum to the busy time, decodes share a step equally', () => {
    const busy = run.steps.reduce((sum, s) => sum + s.durationMs, 0);
    expect(run.results.reduce((sum, r) => sum + r.gpuMs, 0) / busy).toBeCloseTo(1, 9);
    expect(run.results).toHaveLength(64);
    expect(run.results.every((r) => r.outputTokens === 256 && r.tokenTimesMs.length === 256)).toBe(true);
    // Same work, admitted in pairs: the GPU time of the first and the last sequence differ by little.
    const gpu = run.results.map((r) => r.gpuMs);
    expect(Math.max(...gpu) / Math.min(...gpu)).toBeLessThan(1.2);
  });

  it('gives TTFT from the prefill that produced the first token, later for later admissions', () => {
    const ttft = run.results.map((r) => r.firstTokenMs! - r.arrivalMs).sort((a, b) => a - b);
    expect(ttft[0]).toBeCloseTo(table('prefill', 1, 2048), 9); // the first step: two whole prompts, nothing to decode
    expect(ttft.at(-1)!).toBeGreaterThan(31 * table('prefill', 1, 2048));
  });
});

describe('batching', () => {
  it('raises 8B/H100 tokens/s more than 20x from batch 1 to 64, as the decode table does', () => {
    const one = drain(fed(1, 1024, 256));
    const many = drain(fed(64, 1024, 256));
    const tableRatio = 64 / table('decode', 64, 1024) / (1 / table('decode', 1, 1024));
    expect(tableRatio).toBeGreaterThan(20);
    expect(tokensPerS(many) / tokensPerS(one)).toBeGreaterThan(20);
    // Alone, a request takes its prefill, then one batch-1 decode step per further token.
    expect(one.steps[0]!.durationMs).toBeCloseTo(table('prefill', 1, 1024), 9);
    const itl = one.results[0]!.tokenTimesMs.slice(1).map((t, i) => t - one.results[0]!.tokenTimesMs[i]!);
    expect(itl[0]).toBeCloseTo(table('decode', 1, 1024), 1);
    expect(Math.max(...itl)).toBeLessThan(table('decode', 1, 2048));
  });

  it('slows every step by the injected factor and attributes the longer time', () => {
    const base = drain(fed(8, 256, 32));
    const slow = drain(fed(8, 256, 32), 2.5);
    expect(slow.steps.map((s) => s.durationMs / 2.5)).toEqual(base.steps.map((s) => expect.closeTo(s.durationMs, 9)));
    expect(slow.results.reduce((a, r) => a + r.gpuMs, 0)).toBeCloseTo(2.5 * base.results.reduce((a, r) => a + r.gpuMs, 0), 6);
  });
});

describe('a full KV cache', () => {
  it('keeps new sequences waiting until a running one frees its blocks', () => {
    // Room for 2 whole sequences and part of a third: the third must wait for the first to finish.
    const engine = fed(3, 1024, 64, { kvCapacityTokens: 2 * (1024 + 64) + 512, watermarkBlocks: 0 });
    const run = drain(engine);
    const byId = new Map(run.results.map((r) => [r.id, r]));
    const firstDone = Math.min(byId.get('r0')!.finishMs, byId.get('r1')!.finishMs);
    expect(byId.get('r2')!.firstScheduledMs).toBeGreaterThanOrEqual(firstDone);
    expect(run.maxKvUsed).toBeLessThanOrEqual(1);
    expect(run.loads).toContainEqual(expect.objectContaining({ running: 2, waiting: 1 }));
    expect(run.loads.every((l) => l.running <= 2)).toBe(true);
  });

  it('preempts the newest sequence when decodes outgrow the cache, and still completes every token once', () => {
    // 4,096 KV tokens: seven 512-token prompts fit, their 512-token outputs do not.
    const run = drain(fed(8, 512, 512, { kvCapacityTokens: 4096 }));
    expect(run.results).toHaveLength(8);
    expect(run.steps.some((s) => s.preempted.length > 0)).toBe(true);
    expect(run.results.some((r) => r.preemptions > 0)).toBe(true);
    expect(run.maxKvUsed).toBeLessThanOrEqual(1);
    const indices = new Map<string, number[]>();
    for (const s of run.steps) for (const t of s.tokens) indices.set(t.id, [...(indices.get(t.id) ?? []), t.index]);
    for (const [, seen] of indices) expect(seen).toEqual(Array.from({ length: 512 }, (_, i) => i));
    // Recomputing costs GPU time: more than the same work with room to spare.
    const roomy = drain(fed(8, 512, 512));
    const gpu = (r: Run) => r.results.reduce((sum, x) => sum + x.gpuMs, 0);
    expect(gpu(run)).toBeGreaterThan(gpu(roomy));
  });

  it('refuses a request that could never fit, and removes a sequence with what it cost so far', () => {
    const engine = createEngine({ perf, kvCapacityTokens: 2048, maxRunning: 4 });
    expect(engine.enqueue({ id: 'big', promptTokens: 2000, maxTokens: 100, arrivalMs: 0 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/KV cache/),
    });
    expect(engine.enqueue({ id: 'a', promptTokens: 100, maxTokens: 10, arrivalMs: 0 })).toEqual({ ok: true });
    const step = engine.step(0)!;
    // 2,048 tokens are 128 blocks: the 100-token prompt holds 7 of them, the watermark keeps 2 more.
    expect(engine.load()).toMatchObject({ running: 1, waiting: 0, freeSlots: 3, freeKvTokens: (128 - 7 - 2) * 16 });
    const removed = engine.remove('a', step.endMs)!;
    expect(removed).toMatchObject({ id: 'a', outputTokens: 1, gpuMs: step.durationMs });
    expect(engine.has('a')).toBe(false);
    expect(engine.load().kvUsed).toBe(0);
    expect(engine.step(step.endMs)).toBeUndefined();
  });
});

describe('prefix caching', () => {
  /** Chained block hashes as admission would send them: prompts sharing `shared` leading blocks share those hashes. */
  const prefixOf = (promptTokens: number, shared: number, family: number, blockTokens = 64) => ({
    blockTokens,
    hashes: Array.from({ length: Math.floor(promptTokens / blockTokens) }, (_, i) => (i < shared ? 1_000 + i : family * 1_000_000 + i)),
  });
  const one = (engine: Engine, id: string, promptTokens: number, prefix: ReturnType<typeof prefixOf>, maxTokens = 8) => {
    expect(engine.enqueue({ id, promptTokens, maxTokens, arrivalMs: 0, prefix })).toEqual({ ok: true });
    const run = drain(engine);
    return { result: run.results.find((r) => r.id === id)!, run };
  };

  it("serves a repeated 4,000-token prompt's second request from the cache: cached tokens reported, prefill and TTFT far shorter", () => {
    const engine = createEngine({ perf, kvCapacityTokens: perf.kvCapacityTokens(), maxRunning: 64 });
    const first = one(engine, 'first', 4_000, prefixOf(4_000, 62, 1));
    const changes = engine.takePrefixChanges();
    // 62 full 64-token blocks of the prompt stay cached; nothing was evicted.
    expect(changes).toEqual({ stored: prefixOf(4_000, 62, 1).hashes, evicted: [] });
    const second = one(engine, 'second', 4_000, prefixOf(4_000, 62, 2));
    expect(first.result.cachedTokens).toBe(0);
    expect(second.result.cachedTokens).toBe(62 * 64);
    // Only the 32 uncached tokens are prefilled, attending to the 3,968 cached ones.
    expect(second.run.steps[0]!.prefillTokens).toBe(4_000 - 62 * 64);
    expect(second.run.steps[0]!.durationMs).toBeCloseTo(perf.prefillMs(32) + perf.chunkContextMs(62 * 64, 32), 9);
    const ttft = (r: SequenceResult) => r.firstTokenMs! - r.arrivalMs;
    expect(ttft(second.result)).toBeLessThan(0.2 * ttft(first.result));
    expect(second.result.gpuMs).toBeLessThan(first.result.gpuMs);
    expect(engine.load()).toMatchObject({ running: 0, kvUsed: 0, cachedPrefixBlocks: 62 });
  });

  it('reuses only the leading blocks two prompts share, and always computes the last prompt token', () => {
    const engine = createEngine({ perf, kvCapacityTokens: perf.kvCapacityTokens(), maxRunning: 64 });
    one(engine, 'a', 1_024, prefixOf(1_024, 16, 1));
    // Shares the first 10 blocks, then differs: blocks after the first difference never match.
    const b = one(engine, 'b', 1_024, { blockTokens: 64, hashes: prefixOf(1_024, 10, 9).hashes.map((h, i) => (i === 12 ? 1_000 + 12 : h)) });
    expect(b.result.cachedTokens).toBe(10 * 64);
    // A prompt of exactly 16 blocks, all cached: the last block is recomputed for its last token's logits.
    const c = one(engine, 'c', 1_024, prefixOf(1_024, 16, 3));
    expect(c.result.cachedTokens).toBe(15 * 64);
    // Hashes of another block size never match.
    const d = one(engine, 'd', 1_024, prefixOf(1_024, 8, 4, 128));
    expect(d.result.cachedTokens).toBe(0);
  });

  it('charges a long prompt prefilled in chunks about what the profile gives for the whole prompt', () => {
    const run = drain(fed(1, 8_192, 1));
    // Four 2,048-token chunks, each attending to the chunks before it.
    expect(run.steps).toHaveLength(4);
    expect(run.makespanMs / perf.prefillMs(8_192)).toBeGreaterThan(0.97);
    expect(run.makespanMs / perf.prefillMs(8_192)).toBeLessThan(1.1);
  });

  it('evicts cached blocks nobody reads, least recently used first, before preempting anyone', () => {
    // 4,096 KV tokens: two 1,024-token prompts stay cached, then a 3,000-token prompt needs the room.
    const engine = createEngine({ perf, kvCapacityTokens: 4_096, maxRunning: 8, watermarkBlocks: 0 });
    one(engine, 'old', 1_024, prefixOf(1_024, 0, 1));
    one(engine, 'recent', 1_024, prefixOf(1_024, 0, 2));
    one(engine, 'old-again', 1_024, prefixOf(1_024, 0, 1)); // reading 'old' makes it the most recently used
    engine.takePrefixChanges();
    const big = one(engine, 'big', 3_000, prefixOf(3_000, 0, 3), 16);
    expect(big.run.steps.some((s) => s.preempted.length > 0)).toBe(false);
    const { evicted } = engine.takePrefixChanges();
    // Family 2 ('recent', used less recently than family 1) went first.
    expect(evicted.slice(0, 16)).toEqual(prefixOf(1_024, 0, 2).hashes);
    expect(big.run.maxKvUsed).toBeLessThanOrEqual(1);
    expect(engine.cachedPrefixes().length * 64).toBeLessThanOrEqual(4_096);
  });

  it('never evicts a block a running sequence reads, and never holds more than its KV cache, under any mix of shared prompts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            prompt: fc.integer({ min: 1, max: 1_500 }),
            shared: fc.integer({ min: 0, max: 24 }),
            family: fc.integer({ min: 1, max: 4 }),
            out: fc.integer({ min: 1, max: 64 }),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.integer({ min: 2_048, max: 8_192 }),
        (specs, capacity) => {
          const engine = createEngine({ perf, kvCapacityTokens: capacity, maxRunning: 8 });
          specs.forEach((s, i) =>
            engine.enqueue({ id: `s${i}`, promptTokens: s.prompt, maxTokens: s.out, arrivalMs: 0, prefix: prefixOf(s.prompt, s.shared, s.family) }),
          );
          const run = drain(engine);
          const accepted = specs.filter((s) => Math.ceil((s.prompt + s.out) / 16) <= Math.floor(capacity / 16));
          expect(run.results).toHaveLength(accepted.length);
          expect(outputTokens(run)).toBe(accepted.reduce((sum, s) => sum + s.out, 0));
          expect(run.maxKvUsed).toBeLessThanOrEqual(1);
          expect(run.results.every((r) => r.cachedTokens < r.promptTokens && r.cachedTokens % 64 === 0)).toBe(true);
          // Once idle, only unheld cached blocks remain, and they fit.
          expect(engine.load().kvUsed).toBe(0);
          expect(engine.cachedPrefixes().length * 64).toBeLessThanOrEqual(capacity);
        },
      ),
      { numRuns: 200 },
    );
  });
});
