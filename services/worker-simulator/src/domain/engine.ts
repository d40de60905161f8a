import type { PerfModel } from '@switchyard/perf-model';

/** Settings of one worker's continuous-batching engine; optional fields document their default. */
export interface EngineOptions {
  /** Step times of the worker's model on its GPU. */
  readonly perf: Pick<PerfModel, 'mixedMs' | 'decodeMs' | 'prefillMs'>;
  /** KV-cache tokens the worker holds (`perf.kvCapacityTokens()` for a whole GPU). */
  readonly kvCapacityTokens: number;
  /** Sequences running at once: the pool's slots per worker. */
  readonly maxRunning: number;
  /** Tokens one iteration pushes through the model, decodes plus prefill chunks. Default 2048. */
  readonly maxBatchTokens?: number;
  /** Tokens per KV-cache block. Default 16. */
  readonly blockTokens?: number;
  /** Blocks left free when admitting, so running sequences can grow before anyone is preempted. Default 1 % of the cache. */
  readonly watermarkBlocks?: number;
}

/** A request as the engine sees it; times are simulated milliseconds. */
export interface SequenceSpec {
  readonly id: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly arrivalMs: number;
}

/** What a finished (or removed) sequence cost and when its tokens came. */
export interface SequenceResult {
  readonly id: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly arrivalMs: number;
  /** When it was first admitted to a step; undefined if it never ran. */
  readonly firstScheduledMs: number | undefined;
  readonly firstTokenMs: number | undefined;
  readonly finishMs: number;
  /** GPU time attributed to it: its share of every step it took part in. */
  readonly gpuMs: number;
  /** Times its KV cache was dropped and recomputed for lack of room. */
  readonly preemptions: number;
  /** End of the step that sampled each output token. */
  readonly tokenTimesMs: readonly number[];
}

/** One engine iteration: one mixed step of decodes and prefill chunks. */
export interface StepReport {
  readonly startMs: number;
  readonly durationMs: number;
  readonly endMs: number;
  readonly decodeBatch: number;
  /** Mean cached tokens of the decoding sequences. */
  readonly decodeContext: number;
  readonly prefillTokens: number;
  /** Output tokens sampled at `endMs`: the sequence and the token's index in its output. */
  readonly tokens: ReadonlyArray<{ readonly id: string; readonly index: number }>;
  readonly finished: readonly SequenceResult[];
  /** Sequences whose cache was dropped this step; they wait to be recomputed. */
  readonly preempted: readonly string[];
}

export interface EngineLoad {
  readonly running: number;
  readonly waiting: number;
  /** Fraction of KV blocks held, 0..1. */
  readonly kvUsed: number;
  /** KV-cache tokens a new sequence could still be given (free blocks above the watermark). */
  readonly freeKvTokens: number;
  /** Further sequences the engine could take without queueing. */
  readonly freeSlots: number;
}

export type EnqueueResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface Engine {
  /** Queues a sequence; refuses one whose prompt plus output can never fit in the KV cache. */
  enqueue(spec: SequenceSpec): EnqueueResult;
  /** Runs one iteration starting at `nowMs`, every step `slowdown` times longer; undefined when there is nothing to run. */
  step(nowMs: number, slowdown?: number): StepReport | undefined;
  /** Takes a sequence out wherever it is, freeing its cache, with what it cost so far. */
  remove(id: string, nowMs: number): SequenceResult | undefined;
  has(id: string): boolean;
  load(): EngineLoad;
}

interface Seq {
  readonly spec: SequenceSpec;
  /** Tokens whose KV entries exist. */
  computed: number;
  generated: number;
  blocks: number;
  gpuMs: number;
  preemptions: number;
  firstScheduledMs: number | undefined;
  readonly tokenTimes: number[];
}

/**
 * A continuous-batching engine in simulated time, shaped like vLLM's scheduler: every step decodes
 * one token for each running sequence (oldest first), gives the rest of the token budget to prefill
 * chunks of sequences still reading their prompt, then admits waiting sequences first come, first
 * served while slots and KV blocks allow (a prompt's blocks are reserved on admission). When a
 * decode needs a block and none is free, the most recently admitted sequence is preempted: its
 * cache is dropped and it waits at the head of the queue to be recomputed (prompt plus the tokens
 * it already produced, which are not produced again).
 *
 * Step time is `perf.mixedMs` of the step's decode batch, prefill tokens and mean decode context.
 * GPU time is attributed by cost: the step is split between its decode part and its prefill part in
 * proportion to what each would take alone (`decodeMs`, `prefillMs`), then equally among the decodes
 * and by chunk size among the prefills, so the attributed times of a step sum to its duration.
 */
export function createEngine(options: EngineOptions): Engine {
  const blockTokens = options.blockTokens ?? 16;
  const budget = options.maxBatchTokens ?? 2048;
  const totalBlocks = Math.floor(options.kvCapacityTokens / blockTokens);
  const watermark = options.watermarkBlocks ?? Math.ceil(totalBlocks * 0.01);
  const { perf, maxRunning } = options;
  const running: Seq[] = [];
  const waiting: Seq[] = [];
  let usedBlocks = 0;

  const blocksFor = (tokens: number) => Math.ceil(tokens / blockTokens);
  const pending = (s: Seq) => s.spec.promptTokens + s.generated - s.computed;
  const free = () => totalBlocks - usedBlocks;
  const release = (s: Seq) => {
    usedBlocks -= s.blocks;
    s.blocks = 0;
  };
  const result = (s: Seq, finishMs: number): SequenceResult => ({
    id: s.spec.id,
    promptTokens: s.spec.promptTokens,
    outputTokens: s.generated,
    arrivalMs: s.spec.arrivalMs,
    firstScheduledMs: s.firstScheduledMs,
    firstTokenMs: s.tokenTimes[0],
    finishMs,
    gpuMs: s.gpuMs,
    preemptions: s.preemptions,
    tokenTimesMs: s.tokenTimes,
  });
  const preempt = (s: Seq) => {
    running.splice(running.indexOf(s), 1);
    release(s);
    s.computed = 0;
    s.preemptions++;
    waiting.unshift(s);
  };

  function plan(nowMs: number): { fed: Map<Seq, number>; decodes: Set<Seq>; preempted: string[] } {
    const fed = new Map<Seq, number>();
    const decodes = new Set<Seq>();
    const preempted: string[] = [];
    let left = budget;
    for (const s of [...running]) {
      if (left === 0) break;
      if (!running.includes(s) || pending(s) !== 1) continue;
      while (blocksFor(s.computed + 1) > s.blocks && free() === 0) {
        const victim = running.at(-1)!;
        preempt(victim);
        preempted.push(victim.spec.id);
        if (victim === s) break;
      }
      if (!running.includes(s)) continue;
      if (blocksFor(s.computed + 1) > s.blocks) {
        s.blocks++;
        usedBlocks++;
      }
      fed.set(s, 1);
      decodes.add(s);
      left--;
    }
    for (const s of running) {
      if (left === 0) break;
      if (fed.has(s) || pending(s) <= 1) continue;
      const n = Math.min(pending(s), left);
      fed.set(s, n);
      left -= n;
    }
    while (left > 0 && waiting.length > 0 && running.length < maxRunning) {
      const s = waiting[0]!;
      const need = blocksFor(pending(s));
      if (need > free() - (running.length === 0 ? 0 : watermark)) break;
      waiting.shift();
      s.blocks = need;
      usedBlocks += need;
      s.firstScheduledMs ??= nowMs;
      running.push(s);
      const n = Math.min(pending(s), left);
      fed.set(s, n);
      left -= n;
    }
    return { fed, decodes, preempted };
  }

  return {
    enqueue(spec) {
      if (!(spec.promptTokens >= 1 && spec.maxTokens >= 1)) {
        return { ok: false, reason: `a sequence needs at least 1 prompt and 1 output token, got ${spec.promptTokens}/${spec.maxTokens}` };
      }
      const need = blocksFor(spec.promptTokens + spec.maxTokens);
      if (need > totalBlocks) {
        return { ok: false, reason: `${spec.promptTokens} + ${spec.maxTokens} tokens exceed this worker's KV cache of ${totalBlocks * blockTokens} tokens` };
      }
      waiting.push({ spec, computed: 0, generated: 0, blocks: 0, gpuMs: 0, preemptions: 0, firstScheduledMs: undefined, tokenTimes: [] });
      return { ok: true };
    },

    step(nowMs, slowdown = 1) {
      const { fed, decodes, preempted } = plan(nowMs);
      if (fed.size === 0) return undefined;
      const batch = decodes.size;
      const decodeContext = batch === 0 ? 0 : [...decodes].reduce((sum, s) => sum + s.computed, 0) / batch;
      const prefillTokens = [...fed.values()].reduce((a, b) => a + b, 0) - batch;
      const durationMs = perf.mixedMs(batch, prefillTokens, decodeContext) * slowdown;
      const endMs = nowMs + durationMs;
      const decodeAlone = perf.decodeMs(batch, decodeContext);
      const prefillAlone = perf.prefillMs(prefillTokens);
      const decodeShare = decodeAlone / (decodeAlone + prefillAlone);
      const tokens: Array<{ id: string; index: number }> = [];
      const finished: SequenceResult[] = [];
      for (const [s, n] of fed) {
        s.gpuMs += decodes.has(s) ? (durationMs * decodeShare) / batch : (durationMs * (1 - decodeShare) * n) / prefillTokens;
        s.computed += n;
        if (pending(s) > 0) continue;
        s.generated++;
        s.tokenTimes.push(endMs);
        tokens.push({ id: s.spec.id, index: s.generated - 1 });
        if (s.generated === s.spec.maxTokens) {
          running.splice(running.indexOf(s), 1);
          release(s);
          finished.push(result(s, endMs));
        }
      }
      return { startMs: nowMs, durationMs, endMs, decodeBatch: batch, decodeContext, prefillTokens, tokens, finished, preempted };
    },

    remove(id, nowMs) {
      for (const queue of [running, waiting]) {
        const i = queue.findIndex((s) => s.spec.id === id);
        if (i < 0) continue;
        const [s] = queue.splice(i, 1);
        release(s!);
        return result(s!, nowMs);
      }
      return undefined;
    },

    has: (id) => running.some((s) => s.spec.id === id) || waiting.some((s) => s.spec.id === id),

    load: () => ({
      running: running.length,
      waiting: waiting.length,
      kvUsed: totalBlocks === 0 ? 1 : usedBlocks / totalBlocks,
      freeKvTokens: Math.max(0, free() - (running.length === 0 ? 0 : watermark)) * blockTokens,
      freeSlots: Math.max(0, maxRunning - running.length - waiting.length),
    }),
  };
}
