import { DomainError, Tier, tierName, type TierName } from '@switchyard/contracts';
import type { PromptEncoder } from '@switchyard/tokenizer';
import { requireKnownModel, type ModelCatalog } from './model-catalog.js';

/** The fields Generate and Complete share. */
export interface GenerationInput {
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly tier: Tier;
  readonly idempotencyKey: string;
  readonly feature: string;
  readonly seed: number;
  /** Sequences that end the output before max_tokens. */
  readonly stop: readonly string[];
  /** The caller's end user (OpenAI `user`), recorded on decisions; empty for none. */
  readonly user?: string;
}

export interface GenerationLimits {
  /** Largest prompt accepted, in Llama 3 tokens (`<|begin_of_text|>` included). */
  readonly maxPromptTokens: number;
  /** Largest max_tokens accepted. */
  readonly maxOutputTokens: number;
  /** Used when the caller sends max_tokens = 0. */
  readonly defaultMaxTokens: number;
}

/** A request that passed validation, with its defaults resolved. */
export interface GenerationParams {
  readonly model: string;
  readonly prompt: string;
  /** Llama 3 tokenizer count of the prompt: what limits, budget reservations and billing use. */
  readonly promptTokens: number;
  /** The prompt's Llama 3 token ids (`promptTokens` of them), for its prefix identity. */
  readonly promptTokenIds: Int32Array;
  readonly maxTokens: number;
  readonly tier: Tier;
  readonly tierName: TierName;
  readonly feature: string;
  readonly seed: number;
  readonly stop: readonly string[];
  readonly user: string;
}

const MODEL = /^[a-z0-9][a-z0-9.:-]{0,63}$/;
/** Ids are `req_` + 32 hex digits (generation.ts); a little looser, so probes like `req_none` read as absent. */
const REQUEST_ID = /^req_[A-Za-z0-9]{1,64}$/;

/**
 * Checks the shape of a request id before it reaches Redis or an error message; the refusal
 * never echoes the id, which may be anything up to the 1 MiB message limit.
 */
export function validateRequestId(requestId: string): string {
  if (!REQUEST_ID.test(requestId)) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `request_id must be "req_" and up to 64 letters or digits, as Generate and Complete return it (got ${requestId.length} characters)`,
    );
  }
  return requestId;
}
const FEATURE = /^[A-Za-z0-9_-]{0,64}$/;
/** OpenAI's limit on stop sequences; each is bounded so a request cannot make the worker search for a megabyte. */
export const MAX_STOP_SEQUENCES = 4;
const MAX_STOP_CHARS = 256;
/** OpenAI's limit on `user`. */
const MAX_USER_CHARS = 256;

/**
 * Checks a request and resolves defaults; every refusal says what to change. The model is
 * checked against `models` first, so a typo is refused before anything is counted or spent.
 * `encodePrompt` is the Llama 3 tokenizer the edge hands in (`encodePrompt` of `@switchyard/tokenizer`).
 */
export function validateGeneration(input: GenerationInput, limits: GenerationLimits, encodePrompt: PromptEncoder, models: ModelCatalog): GenerationParams {
  const invalid = (message: string, reason?: string) => new DomainError('INVALID_ARGUMENT', message, { reason });
  if (!input.model) throw invalid('model is required, e.g. "llama-3.1-8b" (lower-case letters, digits, ".", ":", "-")');
  if (!MODEL.test(input.model)) throw invalid('model must be a model name of up to 64 lower-case letters, digits, ".", ":" and "-", e.g. "llama-3.1-8b"');
  requireKnownModel(models, input.model);
  if (input.prompt.length === 0) throw invalid('prompt is empty');
  // Counting stops past the limit, so a megabyte prompt costs no more than the limit's worth.
  const promptTokenIds = encodePrompt(input.prompt, { stopAbove: limits.maxPromptTokens });
  const promptTokens = promptTokenIds.length;
  if (promptTokens > limits.maxPromptTokens) {
    throw invalid(`prompt is more than ${limits.maxPromptTokens} tokens, the limit (Llama 3 tokenizer); shorten it`, 'context_length_exceeded');
  }
  if (input.stop.length > MAX_STOP_SEQUENCES) throw invalid(`stop may hold up to ${MAX_STOP_SEQUENCES} sequences, got ${input.stop.length}`);
  if (input.stop.some((s) => s.length === 0 || s.length > MAX_STOP_CHARS)) {
    throw invalid(`each stop sequence must be 1 to ${MAX_STOP_CHARS} characters`);
  }
  const user = input.user ?? '';
  if (user.length > MAX_USER_CHARS) throw invalid(`user may be up to ${MAX_USER_CHARS} characters, got ${user.length}`);
  if (input.maxTokens > limits.maxOutputTokens) {
    throw invalid(`max_tokens ${input.maxTokens} is above the limit of ${limits.maxOutputTokens}`);
  }
  const tier = input.tier === Tier.TIER_UNSPECIFIED ? Tier.TIER_REALTIME : input.tier;
  const name = tierName(tier);
  if (!name) throw invalid('tier must be TIER_REALTIME, TIER_INTERNAL or TIER_BATCH');
  if (!FEATURE.test(input.feature)) throw invalid('feature may hold up to 64 letters, digits, "_" or "-"');
  // The seed travels as uint64 on the bus: a negative, fractional or unsafe one failed to
  // encode only after admission, as a retryable 503 that left a record behind.
  if (!Number.isSafeInteger(input.seed) || input.seed < 0) throw invalid('seed must be an integer from 0 to 2^53-1 (9007199254740991)');
  return {
    model: input.model,
    prompt: input.prompt,
    promptTokens,
    promptTokenIds,
    maxTokens: input.maxTokens || limits.defaultMaxTokens,
    tier,
    tierName: name,
    feature: input.feature || 'default',
    seed: input.seed,
    stop: input.stop,
    user,
  };
}
