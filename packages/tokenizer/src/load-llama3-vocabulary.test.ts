import llama3Tokenizer from 'llama3-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { loadLlama3Vocabulary } from './load-llama3-vocabulary.js';

const vocabulary = loadLlama3Vocabulary();
const { vocabById, vocabByString, merges } = llama3Tokenizer as unknown as {
  vocabById: string[];
  vocabByString: Map<string, number>;
  merges: Map<string, number>;
};

describe('loadLlama3Vocabulary', () => {
  // Each byte's token is one character of the library's alphabet; together they spell every token.
  const byteOfChar = new Map<string, number>();
  for (let b = 0; b < 256; b++) byteOfChar.set(vocabById[vocabulary.byteToken[b]!]!, b);
  const bytesOf = (token: string) => Uint8Array.from(token, (c) => byteOfChar.get(c) ?? -1);

  it('gives each of the 256 bytes its own one-character token', () => {
    expect(byteOfChar.size).toBe(256);
    for (const char of byteOfChar.keys()) expect([...char]).toHaveLength(1);
  });

  it('finds every token of the installed library by its bytes, special tokens included', () => {
    expect(vocabById).toHaveLength(128_256);
    let wrong = 0;
    vocabById.forEach((token, id) => {
      const bytes = bytesOf(token);
      if (vocabulary.tokenOf(bytes, 0, bytes.length) !== id) wrong++;
    });
    expect(wrong).toBe(0);
  });

  it("merges every pair the library merges, with the library's rank, into the library's token", () => {
    expect(merges.size).toBeGreaterThan(280_000);
    let wrong = 0;
    for (const [key, rank] of merges) {
      const [left, right] = key.split(' ') as [string, string];
      const l = vocabByString.get(left)!;
      const r = vocabByString.get(right)!;
      if (vocabulary.mergeRank(l, r) !== rank || vocabulary.mergeResult(l, r) !== vocabByString.get(left + right)) wrong++;
    }
    expect(wrong).toBe(0);
  });

  it('merges no pair the library does not', () => {
    let wrong = 0;
    // Every 97th id against every 89th: ~2 million pairs spread over the whole vocabulary.
    for (let l = 0; l < vocabById.length; l += 97) {
      for (let r = 0; r < vocabById.length; r += 89) {
        const known = merges.has(`${vocabById[l]} ${vocabById[r]}`);
        if (vocabulary.mergeRank(l, r) >= 0 !== known) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});
