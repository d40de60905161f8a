export { countPromptTokens, createTokenCounter } from './count-prompt-tokens.js';
export type { PromptTokenCounter, TokenCounterOptions, CountOptions } from './count-prompt-tokens.js';
