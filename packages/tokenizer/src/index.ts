import { createLlama3Tokenizer, type PromptEncoder, type PromptTokenCounter, type TokenCounterOptions } from './domain/count-prompt-tokens.js';
import { loadLlama3Vocabulary } from './load-llama3-vocabulary.js';

// Read once at import (0.1-0.2 s of CPU, ~10 MB kept), so counting stays synchronous. Admission's
// edge imports it and hands the counter to its domain code, which imports only the types.
const vocabulary = loadLlama3Vocabulary();

/** A counter with its own piece memo over the Llama 3 vocabulary; see `TokenCounterOptions` for the defaults. */
export function createTokenCounter(options: TokenCounterOptions = {}): PromptTokenCounter {
  return createLlama3Tokenizer(vocabulary, options).count;
}

const shared = createLlama3Tokenizer(vocabulary);

/**
 * Prompt tokens of `text` for a Llama 3.x model: what limits, budget reservations and billing
 * count. Includes the `<|begin_of_text|>` token the model is given before the text.
 */
export const countPromptTokens: PromptTokenCounter = shared.count;

/** The Llama 3 token ids of a prompt, `<|begin_of_text|>` (128000) first; shares `countPromptTokens`'s memo. */
export const encodePrompt: PromptEncoder = shared.encode;

export { DEFAULT_PREFIX_BLOCK_TOKENS, prefixBlockHashes } from './domain/prefix-blocks.js';

export type { PromptEncoder, PromptTokenCounter, TokenCounterOptions, CountOptions } from './domain/count-prompt-tokens.js';
