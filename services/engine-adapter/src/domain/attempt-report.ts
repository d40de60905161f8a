import type { TokenUsage } from '@switchyard/contracts';
import type { RequestTimes } from '@switchyard/worker-kit';
import type { UpstreamUsage } from './sse.js';

/** What one upstream attempt did, as the adapter saw it. Times are real Unix ms. */
export interface AttemptFacts {
  readonly admittedMs: number;
  readonly sentMs: number;
  readonly firstTokenMs?: number;
  readonly endMs: number;
  /** The tokens admission counted in the prompt, used when the upstream reports none. */
  readonly promptTokens: number;
  /** Output tokens of the text relayed, counted with the tokenizer. */
  readonly countedOutputTokens: number;
  readonly upstreamUsage?: UpstreamUsage;
  /** The attempt's share of the engine's GPU time, real ms (0 for a provider, which shows none). */
  readonly gpuMs: number;
}

/**
 * The tokens an attempt is accounted with: the upstream's own `usage` when it sent one (what a
 * provider invoices), else the prompt as admission counted it and the relayed text counted with
 * the tokenizer.
 */
export function attemptUsage(f: AttemptFacts): TokenUsage {
  const u = f.upstreamUsage;
  if (u) return { inputTokens: u.promptTokens, cachedInputTokens: Math.min(u.cachedPromptTokens, u.promptTokens), outputTokens: u.completionTokens };
  return { inputTokens: f.promptTokens, cachedInputTokens: 0, outputTokens: f.countedOutputTokens };
}

/** Wall-clock times of an attempt as its usage event reports them, from admission, with its GPU share. */
export function attemptTimes(f: AttemptFacts): RequestTimes {
  const from = (t: number) => Math.max(0, t - f.admittedMs);
  return { queueMs: from(f.sentMs), ttftMs: from(f.firstTokenMs ?? f.endMs), totalMs: from(f.endMs), gpuMs: Math.round(f.gpuMs) };
}

/** The finish reason a terminal event carries: `length` when the upstream hit max_tokens, `stop` otherwise. */
export const finishReasonOf = (upstream: string | undefined): 'stop' | 'length' => (upstream === 'length' ? 'length' : 'stop');
