import { createLlama3Counter, type PromptTokenCounter, type TokenCounterOptions } from './domain/count-prompt-tokens.js';
import { loadLlama3Vocabulary } from './load-llama3-vocabulary.js';

// Read once at import (tens of milliseconds), so counting stays synchronous for admission's domain code.
const vocabulary = loadLlama3Vocabulary();

/** A counter with its own piece memo over the Llama 3 vocabulary; see `TokenCounterOptions` for the defaults. */
export function createTokenCounter(options: TokenCounterOptions = {}): PromptTokenCounter {
  return createLlama3Counter(vocabulary, options);
}

/**
 * Prompt tokens of `text` for a Llama 3.x model: what limits, budget reservations and billing
 * count. Includes the `<|begin_of_text|>` token the model is given before the text.
 */
export const countPromptTokens: PromptTokenCounter = createTokenCounter();

export { createLlama3Counter } from './domain/count-prompt-tokens.js';
export { decodeLlama3Vocabulary } from './domain/llama3-vocabulary.js';
export { loadLlama3Vocabulary } from './load-llama3-vocabulary.js';
export type { PromptTokenCounter, TokenCounterOptions, CountOptions } from './domain/count-prompt-tokens.js';
export type { Llama3Vocabulary } from './domain/llama3-vocabulary.js';
