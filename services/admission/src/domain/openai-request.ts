import { DomainError, parseTier, tierFromName } from '@switchyard/contracts';
import type { GenerationInput } from './validate.js';

/** The fields chat and text completions share. */
export interface OpenAiCommonBody {
  model?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  stream?: unknown;
  stream_options?: unknown;
  seed?: unknown;
  stop?: unknown;
  n?: unknown;
  user?: unknown;
}

/** Switchyard's own headers, as the HTTP request carried them (first value of each). */
export interface CallHeaders {
  readonly tier?: string;
  readonly idempotencyKey?: string;
  /** `x-switchyard-feature`: the feature tag budgets and invoices group by. */
  readonly feature?: string;
  /** `x-switchyard-timeout-ms`: how long the whole call may take. */
  readonly timeoutMs?: string;
  /** `x-switchyard-on-disconnect`: `cancel` (default) or `finish`. */
  readonly onDisconnect?: string;
}

/** A call as the facade runs it: the generation, how many choices, and how to answer. */
export interface OpenAiCall {
  readonly input: GenerationInput;
  readonly stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage and no choices. */
  readonly includeUsage: boolean;
  /** Choices to generate (`n`). */
  readonly choices: number;
  /** Absolute deadline from `x-switchyard-timeout-ms`, Unix ms; 0 for none. */
  readonly deadlineUnixMs: number;
  /** A caller that leaves does not cancel the call: it runs on, and its result waits under its idempotency key. */
  readonly finishOnDisconnect: boolean;
}

/** Most choices one call may ask for; each is a request of its own (README: n). */
export const MAX_CHOICES = 8;
/** Bounds of `x-switchyard-timeout-ms`: a call may wait at most as long as admission waits for any request. */
export const MAX_TIMEOUT_MS = 600_000;

const invalid = (message: string) => new DomainError('INVALID_ARGUMENT', message);

/** `stop` as OpenAI takes it: null, one string, or an array of strings. */
function stopSequences(stop: unknown): string[] {
  if (stop === undefined || stop === null) return [];
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop as string[];
  throw invalid('"stop" must be a string or an array of up to 4 strings');
}

function choiceCount(n: unknown): number {
  if (n === undefined || n === null) return 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHOICES) throw invalid(`"n" must be an integer from 1 to ${MAX_CHOICES}`);
  return n;
}

function includeUsage(options: unknown, stream: boolean): boolean {
  if (options === undefined || options === null) return false;
  if (!stream) throw invalid('"stream_options" is only allowed when "stream" is true');
  if (typeof options !== 'object') throw invalid('"stream_options" must be an object such as {"include_usage": true}');
  const { include_usage: include } = options as { include_usage?: unknown };
  if (include !== undefined && include !== null && typeof include !== 'boolean') throw invalid('"stream_options.include_usage" must be true or false');
  return include === true;
}

/**
 * Whether a call runs on when its caller disconnects (`x-switchyard-on-disconnect: finish`).
 * A caller that may crash mid-call (the batch service) asks for it, so its retry with the same
 * idempotency key collects the first run's result instead of finding it cancelled; without a
 * key nobody could ever collect it, so that is refused.
 */
export function finishOnDisconnect(value: string | undefined, idempotencyKey: string | undefined): boolean {
  if (value === undefined || value === 'cancel') return false;
  if (value !== 'finish') throw invalid('header x-switchyard-on-disconnect must be "cancel" or "finish"');
  if (!idempotencyKey) throw invalid('x-switchyard-on-disconnect: finish needs an Idempotency-Key: it is how the result of a call that ran on is collected');
  return true;
}

/** The deadline `x-switchyard-timeout-ms` sets, or 0 when the header is absent. */
export function deadlineFromHeader(value: string | undefined, nowMs: number): number {
  if (value === undefined) return 0;
  const ms = /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(ms >= 1 && ms <= MAX_TIMEOUT_MS)) {
    throw invalid(`header x-switchyard-timeout-ms must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
  }
  return nowMs + ms;
}

/**
 * Reads what chat and text completions share: model, limits, seed, stop, n, streaming, user,
 * and Switchyard's headers. A field of the wrong type is refused, never ignored.
 */
export function commonCall(body: OpenAiCommonBody, prompt: string, headers: CallHeaders, nowMs: number): OpenAiCall {
  if (typeof body.model !== 'string') throw invalid('"model" is required');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? 0;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) throw invalid('"max_tokens" must be a non-negative integer');
  // OpenAI sends `"seed": null` for none; the range is checked with the gRPC fields.
  const seed = body.seed ?? 0;
  if (typeof seed !== 'number') throw invalid('"seed" must be an integer');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw invalid('"stream" must be true or false');
  const stream = body.stream === true;
  const user = body.user ?? '';
  if (typeof user !== 'string') throw invalid('"user" must be a string');
  const named = headers.tier ? parseTier(headers.tier) : 'realtime';
  if (named === undefined) throw invalid('header x-switchyard-tier must be realtime, internal or batch');
  return {
    input: {
      model: body.model,
      prompt,
      maxTokens,
      tier: tierFromName(named),
      idempotencyKey: headers.idempotencyKey ?? '',
      feature: headers.feature ?? '',
      seed,
      stop: stopSequences(body.stop),
      user,
    },
    stream,
    includeUsage: includeUsage(body.stream_options, stream),
    choices: choiceCount(body.n),
    deadlineUnixMs: deadlineFromHeader(headers.timeoutMs, nowMs),
    finishOnDisconnect: finishOnDisconnect(headers.onDisconnect, headers.idempotencyKey),
  };
}

/** OpenAI's `usage` object from Switchyard's counts. */
export function usageOf(usage: { inputTokens: number; cachedInputTokens?: number; outputTokens: number }) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    // As OpenAI reports prompt caching: the part of prompt_tokens read from the cache.
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
  };
}
