import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { DEFAULT_PREFIX_BLOCK_TOKENS, prefixBlockHashes, type PromptEncoder } from '@switchyard/tokenizer';
import type { Engine, StepReport } from './domain/engine.js';
import type { CompletionRequest } from './domain/completion-request.js';
import { cutIndex, type FaultDecision } from './domain/http-faults.js';
import { choiceChunk, completionBody, sseEvent, usageChunk, usageOf, type CompletionIdentity, type FinishReason } from './domain/openai-chunks.js';
import { openAiErrorReply, type OpenAiErrorReply } from './domain/openai-error.js';
import { findStop } from './domain/stop-sequences.js';
import { tokenText } from './domain/text.js';
import { observe, type VllmStats } from './domain/vllm-metrics.js';
import type { StepLoop } from './step-loop.js';

export interface CompletionsDeps {
  readonly engine: Engine;
  readonly loop: Pick<StepLoop, 'arrivalMs' | 'cursor' | 'wake'>;
  readonly stats: VllmStats;
  /** The prompt's tokens: counted, and hashed in blocks for the engine's prefix cache. */
  readonly encodePrompt: PromptEncoder;
  /** KV-cache tokens of the engine: counting a prompt stops once it is past them (it is refused anyway). */
  readonly kvCapacityTokens: number;
  /** Uniform [0, 1) draws: seeds of requests that bring none. */
  readonly random: () => number;
  /** Real Unix ms: `created`, time to first token and latency. */
  readonly now: () => number;
}

interface InFlight {
  readonly id: string;
  readonly identity: CompletionIdentity;
  readonly request: CompletionRequest;
  readonly res: ServerResponse;
  readonly seed: number;
  readonly promptTokens: number;
  readonly finishReason: FinishReason;
  /** Characters of the answer the caller may see (a stop sequence hides itself and what follows). */
  readonly visibleChars: number;
  /** Output index at which an injected cut drops the connection. */
  readonly cutAt: number | undefined;
  readonly arrivedMs: number;
  generatedChars: number;
  /** The answer so far, for a request that does not stream. */
  text: string;
}

export interface Completions {
  /**
   * Queues a validated request on the engine and answers it as the engine produces its tokens;
   * an error reply when the engine refuses it (it can never fit the KV cache).
   */
  start(request: CompletionRequest, model: string, res: ServerResponse, fault: FaultDecision): OpenAiErrorReply | undefined;
  /** Sends a step's tokens and ends the completions it finished or an injected cut ends. */
  apply(step: StepReport): void;
  /** Requests on the engine. */
  readonly size: number;
  /** Drops every connection (server stop). */
  dropAll(): void;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' } as const;

/**
 * The OpenAI completions a simulated engine is serving: each is one engine sequence whose tokens
 * go out as the step loop makes them due, so time to first token and token pace come from the
 * measured profile and grow with the load, as on a real GPU.
 */
export function createCompletions(deps: CompletionsDeps): Completions {
  const { engine, loop, stats } = deps;
  const inflight = new Map<string, InFlight>();
  let next = 0;
  const tag = randomBytes(4).toString('hex');

  /** Takes a sequence off the engine (the caller left, or a cut) and counts it as vLLM counts an abort. */
  const drop = (f: InFlight) => {
    inflight.delete(f.id);
    engine.remove(f.id, loop.cursor);
    stats.finished.abort++;
  };

  const finish = (f: InFlight, generated: number, cachedTokens: number) => {
    inflight.delete(f.id);
    stats.finished[f.finishReason]++;
    observe(stats.e2e, (deps.now() - f.arrivedMs) / 1000);
    const usage = usageOf(f.promptTokens, generated, cachedTokens);
    if (!f.request.stream) {
      const body = JSON.stringify(completionBody(f.identity, f.text, f.finishReason, usage));
      f.res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    f.res.write(sseEvent(choiceChunk(f.identity, '', f.finishReason)));
    if (f.request.includeUsage) f.res.write(sseEvent(usageChunk(f.identity, usage)));
    f.res.end(sseEvent('[DONE]'));
  };

  const cut = (f: InFlight) => {
    drop(f);
    // End after what was written has left, so the caller gets the tokens before the connection drops.
    const socket = f.res.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), 100).unref();
  };

  return {
    start(request, model, res, fault) {
      const id = `${request.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${tag}${(next++).toString(16).padStart(8, '0')}`;
      const seed = request.seed ?? Math.floor(deps.random() * 2 ** 31);
      // A prompt far past the cache costs no more counting than the cache's worth.
      const ids = deps.encodePrompt(request.promptText, { stopAbove: deps.kvCapacityTokens });
      const promptTokens = Math.max(1, ids.length);
      // One engine serves whoever reaches it, as vLLM's prefix cache does: no tenant scope here.
      const prefix = { blockTokens: DEFAULT_PREFIX_BLOCK_TOKENS, hashes: prefixBlockHashes(ids, DEFAULT_PREFIX_BLOCK_TOKENS, '') };
      // A stop sequence ends generation on the GPU itself: tokens past it are never produced.
      const stop = findStop(seed, request.maxTokens, request.stop);
      const maxTokens = stop?.tokens ?? request.maxTokens;
      const queued = engine.enqueue({ id, promptTokens, maxTokens, arrivalMs: loop.arrivalMs(), prefix });
      if (!queued.ok) {
        return openAiErrorReply(
          400,
          'context_length_exceeded',
          `the request does not fit this engine: ${queued.reason}`,
          request.kind === 'chat' ? 'messages' : 'prompt',
        );
      }
      stats.promptTokens += promptTokens;
      const f: InFlight = {
        id,
        identity: { kind: request.kind, id, created: Math.floor(deps.now() / 1000), model },
        request,
        res,
        seed,
        promptTokens,
        finishReason: stop ? 'stop' : 'length',
        visibleChars: stop?.visibleChars ?? Infinity,
        cutAt: fault.kind === 'cut' ? cutIndex(fault.afterTokens, maxTokens) : undefined,
        arrivedMs: deps.now(),
        generatedChars: 0,
        text: '',
      };
      inflight.set(id, f);
      res.on('close', () => {
        if (inflight.get(id) === f) drop(f);
      });
      if (request.stream) res.writeHead(200, SSE_HEADERS).flushHeaders();
      loop.wake();
      return undefined;
    },

    apply(step) {
      stats.generationTokens += step.tokens.length;
      stats.preemptions += step.preempted.length;
      for (const t of step.tokens) {
        const f = inflight.get(t.id);
        if (!f) continue;
        if (f.cutAt !== undefined && t.index >= f.cutAt) {
          cut(f);
          continue;
        }
        if (t.index === 0) observe(stats.ttft, (deps.now() - f.arrivedMs) / 1000);
        const token = tokenText(f.seed, t.index);
        const visible = token.slice(0, Math.max(0, f.visibleChars - f.generatedChars));
        f.generatedChars += token.length;
        if (!f.request.stream) f.text += visible;
        else if (visible !== '') f.res.write(sseEvent(choiceChunk(f.identity, visible, null, t.index === 0)));
      }
      for (const r of step.finished) {
        const f = inflight.get(r.id);
        if (f) finish(f, r.outputTokens, r.cachedTokens);
      }
    },

    get size() {
      return inflight.size;
    },

    dropAll() {
      for (const f of [...inflight.values()]) {
        drop(f);
        f.res.destroy();
      }
    },
  };
}
