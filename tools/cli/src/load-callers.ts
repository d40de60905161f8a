import { status, type ServiceError } from '@grpc/grpc-js';
import { tierFromName, type TierName } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { countPromptTokens } from '@switchyard/tokenizer';
import { reasonGroup, type LoadOutcome } from './domain/load-result.js';

/** One request as a caller sends it. */
export interface LoadCall {
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly tier: TierName;
  readonly seed: number;
  readonly timeoutMs: number;
}

/** What came back: times are ms after the call began (the caller's clock). */
export interface LoadCallResult {
  readonly outcome: Exclude<LoadOutcome, 'dropped'>;
  readonly reason?: string;
  readonly ttftMs?: number;
  readonly e2eMs?: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
}

/** Sends requests as one tenant; `promptOverheadTokens`: tokens the protocol adds to the prompt text. */
export interface LoadCaller {
  readonly promptOverheadTokens: number;
  call(c: LoadCall): Promise<LoadCallResult>;
  close(): void;
}

const NONE = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };

/** Refusals before any work (README "Calling it"); anything else that ends a call is a failure. */
const REFUSING_CODES: ReadonlySet<number> = new Set([
  status.RESOURCE_EXHAUSTED,
  status.INVALID_ARGUMENT,
  status.PERMISSION_DENIED,
  status.NOT_FOUND,
  status.UNAUTHENTICATED,
  status.FAILED_PRECONDITION,
]);
const codeName = (code: number) => Object.entries(status).find(([, v]) => v === code)?.[0] ?? `code ${code}`;

/** Streams `Generate` over gRPC with the SDK; TTFT is the first chunk. */
export function grpcCaller(address: string, apiKey: string, now: () => number, tls?: { ca?: Buffer }): LoadCaller {
  const client = createSwitchyardClient({ address, apiKey, tls });
  return {
    promptOverheadTokens: 0,
    async call(c) {
      const start = now();
      let ttftMs: number | undefined;
      try {
        for await (const { event } of client.generate({
          model: c.model,
          prompt: c.prompt,
          maxTokens: c.maxTokens,
          tier: tierFromName(c.tier),
          seed: c.seed,
          feature: 'load-test',
          timeoutMs: c.timeoutMs,
        })) {
          if (event?.$case === 'chunk' && ttftMs === undefined) ttftMs = now() - start;
          if (event?.$case === 'finished') {
            const u = event.finished.usage ?? NONE;
            return { outcome: 'completed', ttftMs, e2eMs: now() - start, ...pick(u) };
          }
        }
        return { outcome: 'failed', reason: 'stream ended without finishing', ttftMs, ...NONE };
      } catch (e) {
        const err = e as Partial<ServiceError>;
        const code = typeof err.code === 'number' ? err.code : status.UNKNOWN;
        const reason = reasonGroup(codeName(code), err.details ?? err.message ?? '');
        return { outcome: ttftMs === undefined && REFUSING_CODES.has(code) ? 'rejected' : 'failed', reason, ttftMs, ...NONE };
      }
    },
    close: () => client.close(),
  };
}

const pick = (u: { inputTokens: number; cachedInputTokens?: number; outputTokens: number }) => ({
  inputTokens: u.inputTokens,
  cachedInputTokens: u.cachedInputTokens ?? 0,
  outputTokens: u.outputTokens,
});

/**
 * A streamed call can have its 200 sent before a refusal arrives (the scheduler's load shed
 * does), so a refusal before the first token comes as an error event; its `code` is the
 * refusal's reason or its status in lower case (openai-wire `openAiError`).
 */
const REFUSING_STREAM_CODES: ReadonlySet<string> = new Set([
  ...[...REFUSING_CODES].map((c) => codeName(c).toLowerCase()),
  'model_not_found',
  'insufficient_quota',
  'context_length_exceeded',
]);

/** Admission renders a chat message as `role: content` (README "OpenAI-compatible HTTP"); this is what that adds. */
const CHAT_OVERHEAD = countPromptTokens('user: time') - countPromptTokens(' time');

/** Streams `/chat/completions` (SSE, usage in the last chunk); TTFT is the first content delta. */
export function httpCaller(baseUrl: string, apiKey: string, now: () => number): LoadCaller {
  const url = `${baseUrl.replace(/\/$/, '')}/chat/completions`;
  return {
    promptOverheadTokens: CHAT_OVERHEAD,
    async call(c) {
      const start = now();
      let ttftMs: number | undefined;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${apiKey}`,
            'x-switchyard-tier': c.tier,
            'x-switchyard-feature': 'load-test',
            // Admission takes 1 to 600,000 here and refuses more; a longer deadline is the caller's own.
            'x-switchyard-timeout-ms': String(Math.min(c.timeoutMs, 600_000)),
          },
          body: JSON.stringify({
            model: c.model,
            messages: [{ role: 'user', content: c.prompt }],
            max_tokens: c.maxTokens,
            seed: c.seed,
            stream: true,
            stream_options: { include_usage: true },
          }),
          signal: AbortSignal.timeout(c.timeoutMs + 5_000),
        });
        if (!res.ok || !res.body) {
          const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
          const reason = reasonGroup(`HTTP ${res.status}${body.error?.code ? ` ${body.error.code}` : ''}`, body.error?.message ?? '');
          return { outcome: res.status >= 500 ? 'failed' : 'rejected', reason, ...NONE };
        }
        let usage: typeof NONE | undefined;
        let buffer = '';
        let done = false;
        const decoder = new TextDecoder();
        for await (const bytes of res.body) {
          buffer += decoder.decode(bytes as Uint8Array, { stream: true });
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line.startsWith('data:')) continue;
            const data = line.slice(5).trim();
            if (data === '[DONE]') {
              done = true;
              continue;
            }
            const chunk = JSON.parse(data) as {
              choices?: { delta?: { content?: string } }[];
              usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } };
              error?: { code?: string; message?: string };
            };
            if (chunk.error) {
              const code = chunk.error.code ?? '';
              const refused = ttftMs === undefined && REFUSING_STREAM_CODES.has(code);
              return {
                outcome: refused ? 'rejected' : 'failed',
                reason: reasonGroup(`HTTP stream ${code}`.trim(), chunk.error.message ?? ''),
                ttftMs,
                ...NONE,
              };
            }
            if (ttftMs === undefined && chunk.choices?.some((ch) => ch.delta?.content)) ttftMs = now() - start;
            if (chunk.usage)
              usage = {
                inputTokens: chunk.usage.prompt_tokens,
                cachedInputTokens: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0,
                outputTokens: chunk.usage.completion_tokens,
              };
          }
        }
        if (!done || !usage) return { outcome: 'failed', reason: 'stream cut before [DONE] and usage', ttftMs, ...NONE };
        return { outcome: 'completed', ttftMs, e2eMs: now() - start, ...usage };
      } catch (e) {
        return { outcome: 'failed', reason: reasonGroup('HTTP', (e as Error).message), ttftMs, ...NONE };
      }
    },
    close: () => undefined,
  };
}
