import { encodePrompt, prefixBlockHashes } from '@switchyard/tokenizer';

/** A prompt's prefix identity as requests carry it to the workers' prefix caches. */
export interface PromptPrefix {
  readonly hashes: number[];
  readonly blockTokens: number;
}

/** `tokenIds`, when given, are the prompt's (counted already), so it is not tokenized twice. */
export type PromptPrefixer = (tenant: string, prompt: string, tokenIds?: ArrayLike<number>) => PromptPrefix;

/**
 * Hashes the prompt the workers will see (after policy's redaction) in blocks of `blockTokens`
 * Llama 3 tokens, scoped to the tenant (`prefixBlockHashes`). 0 turns prefix identity off:
 * requests then carry none, and no worker reuses a cached prefix for them.
 */
export function createPromptPrefixer(blockTokens: number): PromptPrefixer {
  if (blockTokens === 0) return () => ({ hashes: [], blockTokens: 0 });
  return (tenant, prompt, tokenIds) => ({ hashes: prefixBlockHashes(tokenIds ?? encodePrompt(prompt), blockTokens, tenant), blockTokens });
}
