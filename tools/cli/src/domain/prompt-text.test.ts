import { countPromptTokens } from '@switchyard/tokenizer';
import { describe, expect, it } from 'vitest';
import { BLOCK_TOKENS, promptText } from './prompt-text.js';

describe('promptText', () => {
  it('counts as the requested number of prompt tokens, from 1 to past a few blocks', () => {
    for (const tokens of [1, 2, 3, 17, 511, 512, 513, 1_000, 4_096]) {
      expect(Math.abs(countPromptTokens(promptText(tokens, { seed: tokens })) - tokens)).toBeLessThanOrEqual(1);
    }
  });

  it('gives the same text for the same seed and different text for another', () => {
    expect(promptText(300, { seed: 7 })).toBe(promptText(300, { seed: 7 }));
    expect(promptText(300, { seed: 7 })).not.toBe(promptText(300, { seed: 8 }));
  });

  it('shares exactly the blocks of shared hash_ids and differs from the first different one', () => {
    const a = promptText(3 * BLOCK_TOKENS, { hashIds: [0, 1, 2], seed: 1 });
    const b = promptText(3 * BLOCK_TOKENS - 100, { hashIds: [0, 1, 9], seed: 2 });
    const c = promptText(2 * BLOCK_TOKENS, { hashIds: [5, 1], seed: 3 });
    const common = (x: string, y: string) => {
      let i = 0;
      while (i < x.length && x[i] === y[i]) i++;
      return x.slice(0, i);
    };
    const shared = common(a, b);
    // Two whole blocks shared (a third block could start with the same word by chance, rarely more).
    expect(countPromptTokens(shared) - 1).toBeGreaterThanOrEqual(2 * BLOCK_TOKENS);
    expect(countPromptTokens(shared) - 1).toBeLessThan(2 * BLOCK_TOKENS + 5);
    expect(countPromptTokens(common(a, c)) - 1).toBeLessThan(5);
    expect(Math.abs(countPromptTokens(b) - (3 * BLOCK_TOKENS - 100))).toBeLessThanOrEqual(1);
  });

  it('cuts the last block short where the prompt ends, so a short prompt is a prefix of a long one', () => {
    const long = promptText(BLOCK_TOKENS + 1, { hashIds: [42], seed: 1 });
    const short = promptText(100, { hashIds: [42], seed: 2 });
    expect(long.startsWith(short)).toBe(true);
    expect(countPromptTokens(short)).toBe(100);
  });
});
