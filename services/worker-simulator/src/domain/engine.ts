import type { PerfModel } from '@switchyard/perf-model';

/** Settings of one worker's continuous-batching engine; optional fields document their default. */
export interface EngineOptions {
  /** Step times of the worker's model on its GPU. */
  readonly perf: Pick<PerfModel, 'mixedMs' | 'decodeMs' | 'prefillMs' | 'chunkContextMs'>;
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
  /** Keeps the prompt blocks of finished sequences for later prompts that start the same way. Default true. */
  readonly prefixCaching?: boolean;
}

/**
 * A prompt's identity for prefix caching: the chained hash of each of its full blocks of
 * `blockTokens` tokens (block i's hash covers blocks 0..i), so equal hashes mean equal prefixes.
 * `blockTokens` must be a multiple of the engine's KV block.
 */
export interface PromptPrefix {
  readonly blockTokens: number;
  readonly hashes: readonly number[];
}

/** A request as the engine sees it; times are simulated milliseconds. */
export interface SequenceSpec {
  readonly id: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly arrivalMs: number;
  /** Where its prompt may be found in the prefix cache; without it, nothing is cached for it. */
  readonly prefix?: PromptPrefix;
}

/** What a finished (or removed) sequence cost and when its tokens came. */
export interface SequenceResult {
  readonly id: string;
  readonly promptTokens: number;
  /** Prompt tokens read from the prefix cache when it was first admitted, not computed. */
  readonly cachedTokens: number;
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
  /** Prompt tokens computed this step; cached ones are not. */
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
  /** Prompt tokens admitted and not computed yet: the prefill work a new sequence waits behind. */
  readonly prefillTokens: number;
  /** Prompt blocks kept in the prefix cache (in use or not). */
  readonly cachedPrefixBlocks: number;
}

/** The load of an engine that is not running (before start, or crashed). */
export const IDLE_LOAD: EngineLoad = { running: 0, waiting: 0, kvUsed: 0, freeKvTokens: 0, freeSlots: 0, prefillTokens: 0, cachedPrefixBlocks: 0 };

/** What the prefix cache gained and lost since last asked: the workers' KV events. */
export interface PrefixCacheChanges {
  readonly stored: readonly number[];
  readonly evicted: readonly number[];
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
  /** Prompt blocks stored in and evicted from the prefix cache since the last call, in order. */
  takePrefixChanges(): PrefixCacheChanges;
  /** Every prompt block in the prefix cache now (to rebuild an index of it). */
  cachedPrefixes(): number[];
}

interface Seq {
  readonly spec: SequenceSpec;
  /** Tokens whose KV entries exist, cached prefix included. */
  computed: number;
  generated: number;
  /** KV blocks of its own, beyond the cached prefix blocks it holds. */
  blocks: number;
  /** Prefix-cache blocks it reads (held, so not evicted, until it leaves). */
  held: number[];
  /** Prompt tokens those blocks cover. */
  heldTokens: number;
  cachedTokens: number | undefined;
  gpuMs: number;
  preemptions: number;
  firstScheduledMs: number | undefined;
  readonly tokenTimes: number[];
}

/** A prompt block kept after its sequence: KV blocks it occupies, and the sequences reading it. */
interface CachedBlock {
  /** Prompt tokens it covers: a hash of another block size never matches it. */
  readonly tokens: number;
  readonly kvBlocks: number;
  refs: number;
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
 * Prefix caching, shaped like vLLM's automatic prefix caching: when a sequence finishes (or is
 * removed), the full prompt blocks it computed stay in the KV cache under their chained hash. A
 * sequence admitted later starts from the longest run of its prompt's leading blocks found there
 * (always computing at least its last prompt token), holding those blocks while it runs. Cached
 * blocks nobody holds are evicted least recently used first whenever running sequences need the
 * memory, before anyone is preempted.
 *
 * Step time is `perf.mixedMs` of the step's decode batch, prefill tokens and mean decode context,
 * plus, for each prefill chunk with tokens before it in the cache (earlier chunks, or a cached
 * prefix), `perf.chunkContextMs`: the attention over that context. GPU time is attributed by
 * cost: the step is split between its decode part and its prefill part in proportion to what each
 * would take alone (`decodeMs`, `prefillMs` plus the chunks' context), then equally among the
 * decodes and among the prefills by chunk size plus each chunk's own context, so the attributed
 * times of a step sum to its duration.
 */
export function createEngine(options: EngineOptions): Engine {
  const blockTokens = options.blockTokens ?? 16;
  const budget = options.maxBatchTokens ?? 2048;
  const totalBlocks = Math.floor(options.kvCapacityTokens / blockTokens);
  const watermark = options.watermarkBlocks ?? Math.ceil(totalBlocks * 0.01);
  const { perf, maxRunning } = options;
  const prefixCaching = options.prefixCaching ?? true;
  const running: Seq[] = [];
  const waiting: Seq[] = [];
  /** KV blocks in use: sequences' own and every cached prompt block. */
  let usedBlocks = 0;
  const cache = new Map<number, CachedBlock>();
  /** Cached blocks no sequence holds, least recently used first: what eviction may take. */
  const evictable = new Map<number, CachedBlock>();
  let evictableBlocks = 0;
  let stored: number[] = [];
  let evicted: number[] = [];

  const blocksFor = (tokens: number) => Math.ceil(tokens / blockTokens);
  const pending = (s: Seq) => s.spec.promptTokens + s.generated - s.computed;
  /** Prompt tokens admitted and not computed yet (a waiting sequence's cached prefix is not known yet: counted). */
  const prefillAhead = () => {
    let tokens = 0;
    for (const s of running) tokens += Math.max(0, s.spec.promptTokens - s.computed);
    for (const s of waiting) tokens += Math.max(0, s.spec.promptTokens - s.computed);
    return tokens;
  };
  const free = () => totalBlocks - usedBlocks;
  /** Blocks a sequence could be given: the free ones and the cached ones nobody holds. */
  const available = () => free() + evictableBlocks;
  /** Evicts unheld cached blocks, least recently used first, until `need` blocks are free. */
  const reclaim = (need: number) => {
    for (const [hash, block] of evictable) {
      if (free() >= need) return;
      evictable.delete(hash);
      cache.delete(hash);
      evictableBlocks -= block.kvBlocks;
      usedBlocks -= block.kvBlocks;
      evicted.push(hash);
    }
  };
  const unhold = (hash: number) => {
    const block = cache.get(hash)!;
    if (--block.refs > 0) return;
    evictable.set(hash, block);
    evictableBlocks += block.kvBlocks;
  };
  /** Holds the longest run of the sequence's leading prompt blocks in the cache; returns the tokens they cover. */
  const holdCachedPrefix = (s: Seq): number => {
    const prefix = s.spec.prefix;
    if (!prefixCaching || !prefix || prefix.blockTokens % blockTokens !== 0) return 0;
    // The last prompt token is always computed: its logits give the first output token.
    const usable = Math.min(prefix.hashes.length, Math.floor((s.spec.promptTokens - 1) / prefix.blockTokens));
    for (let i = 0; i < usable; i++) {
      const hash = prefix.hashes[i]!;
      const block = cache.get(hash);
      if (!block || block.tokens !== prefix.blockTokens) break;
      if (block.refs++ === 0) {
        evictable.delete(hash);
        evictableBlocks -= block.kvBlocks;
      }
      s.held.push(hash);
    }
    s.heldTokens = s.held.length * prefix.blockTokens;
    return s.heldTokens;
  };
  /**
   * The sequence leaves the KV cache: the full prompt blocks it computed beyond what it held
   * stay cached (their KV blocks pass from it to the cache), the rest of its own is freed, and
   * the blocks it held become evictable again once nobody else holds them.
   */
  const release = (s: Seq, keepPrompt: boolean) => {
    const prefix = s.spec.prefix;
    if (keepPrompt && prefixCaching && prefix && prefix.blockTokens % blockTokens === 0) {
      const perBlock = prefix.blockTokens / blockTokens;
      const full = Math.min(prefix.hashes.length, Math.floor(Math.min(s.computed, s.spec.promptTokens) / prefix.blockTokens));
      for (let i = s.held.length; i < full && s.blocks >= perBlock; i++) {
        const hash = prefix.hashes[i]!;
        const known = evictable.get(hash);
        if (known) {
          // Computed again (its last prompt token always is): as recently used as the rest.
          evictable.delete(hash);
          evictable.set(hash, known);
        }
        if (cache.has(hash)) continue;
        const block = { tokens: prefix.blockTokens, kvBlocks: perBlock, refs: 0 };
        cache.set(hash, block);
        evictable.set(hash, block);
        evictableBlocks += perBlock;
        s.blocks -= perBlock;
        stored.push(hash);
      }
    }
    usedBlocks -= s.blocks;
    s.blocks = 0;
    for (const hash of s.held) unhold(hash);
    s.held = [];
    s.heldTokens = 0;
  };
  const result = (s: Seq, finishMs: number): SequenceResult => ({
    id: s.spec.id,
    promptTokens: s.spec.promptTokens,
    cachedTokens: s.cachedTokens ?? 0,
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
    release(s, false);
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
      const grows = () => blocksFor(s.computed + 1 - s.heldTokens) > s.blocks;
      if (grows()) reclaim(1);
      while (grows() && free() === 0) {
        const victim = running.at(-1)!;
        preempt(victim);
        preempted.push(victim.spec.id);
        if (victim === s) break;
      }
      if (!running.includes(s)) continue;
      if (grows()) {
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
      const cached = holdCachedPrefix(s);
      const need = blocksFor(pending(s) - cached);
      if (need > available() - (running.length === 0 ? 0 : watermark)) {
        release(s, false);
        break;
      }
      waiting.shift();
      reclaim(need);
      s.computed = cached;
      s.cachedTokens ??= cached;
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
      waiting.push({
        spec,
        computed: 0,
        generated: 0,
        blocks: 0,
        held: [],
        heldTokens: 0,
        cachedTokens: undefined,
        gpuMs: 0,
        preemptions: 0,
        firstScheduledMs: undefined,
        tokenTimes: [],
      });
      return { ok: true };
    },

    step(nowMs, slowdown = 1) {
      const { fed, decodes, preempted } = plan(nowMs);
      if (fed.size === 0) return undefined;
      const batch = decodes.size;
      const decodeContext = batch === 0 ? 0 : [...decodes].reduce((sum, s) => sum + s.computed, 0) / batch;
      const prefillTokens = [...fed.values()].reduce((a, b) => a + b, 0) - batch;
      // Each chunk's attention over the context before it, charged to that chunk alone.
      const chunkContext = new Map<Seq, number>();
      let contextMs = 0;
      for (const [s, n] of fed) {
        if (decodes.has(s)) continue;
        const ms = perf.chunkContextMs(s.computed, n);
        chunkContext.set(s, ms);
        contextMs += ms;
      }
      const durationMs = (perf.mixedMs(batch, prefillTokens, decodeContext) + contextMs) * slowdown;
      const endMs = nowMs + durationMs;
      const decodeAlone = perf.decodeMs(batch, decodeContext);
      const prefillTokensMs = perf.prefillMs(prefillTokens);
      const prefillAlone = prefillTokensMs + contextMs;
      const decodeShare = decodeAlone / (decodeAlone + prefillAlone);
      /** A prefill chunk's share of the step's prefill part: its tokens' share plus its own context. */
      const prefillWeight = (s: Seq, n: number) => ((prefillTokensMs * n) / prefillTokens + chunkContext.get(s)!) / prefillAlone;
      const tokens: Array<{ id: string; index: number }> = [];
      const finished: SequenceResult[] = [];
      for (const [s, n] of fed) {
        s.gpuMs += decodes.has(s) ? (durationMs * decodeShare) / batch : durationMs * (1 - decodeShare) * prefillWeight(s, n);
        s.computed += n;
        if (pending(s) > 0) continue;
        s.generated++;
        s.tokenTimes.push(endMs);
        tokens.push({ id: s.spec.id, index: s.generated - 1 });
        if (s.generated === s.spec.maxTokens) {
          running.splice(running.indexOf(s), 1);
          release(s, true);
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
        release(s!, true);
        return result(s!, nowMs);
      }
      return undefined;
    },

    has: (id) => running.some((s) => s.spec.id === id) || waiting.some((s) => s.spec.id === id),

    // Cached blocks nobody holds count as free, as vLLM's cache usage does: they are given up on demand.
    load: () => ({
      running: running.length,
      waiting: waiting.length,
      kvUsed: totalBlocks === 0 ? 1 : (usedBlocks - evictableBlocks) / totalBlocks,
      freeKvTokens: Math.max(0, available() - (running.length === 0 ? 0 : watermark)) * blockTokens,
      freeSlots: Math.max(0, maxRunning - running.length - waiting.length),
      prefillTokens: prefillAhead(),
      cachedPrefixBlocks: cache.size,
    }),

    takePrefixChanges() {
      const changes = { stored, evicted };
      stored = [];
      evicted = [];
      return changes;
    },

    cachedPrefixes: () => [...cache.keys()],
  };
}
