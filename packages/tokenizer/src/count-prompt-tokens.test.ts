import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { countPromptTokens, createTokenCounter } from './index.js';

const library = (text: string) => llama3Tokenizer.encode(text, { bos: true, eos: false }).length;

describe('countPromptTokens', () => {
  it('counts known strings as the Llama 3 tokenizer does, begin_of_text included', () => {
    // [128000 <|begin_of_text|>, 9906 "Hello", 1917 " world"]; chars / 4 would say 3 without the BOS token.
    expect(countPromptTokens('Hello world')).toBe(3);
    // "Hello world!" is [128000, 9906, 1917, 0] in the library's README.
    expect(countPromptTokens('Hello world!')).toBe(4);
    // How admission renders a chat message: "user", ":", " Hello".
    expect(countPromptTokens('user: Hello')).toBe(4);
    // Digits go in groups of three: "123", "456", "7".
    expect(countPromptTokens('1234567')).toBe(4);
    expect(countPromptTokens('')).toBe(1);
  });

  it('counts a special token in the text as one token', () => {
    expect(countPromptTokens('<|eot_id|>')).toBe(2);
    expect(countPromptTokens('hi<|eot_id|>there')).toBe(library('hi<|eot_id|>there'));
  });

  it('equals the library on any text made of words, digits, symbols, whitespace, non-Latin script and special tokens', () => {
    const part = fc.constantFrom(
      'the',
      ' switchyard',
      "'s",
      "'LL",
      'Hello',
      ' world',
      '!',
      '?!',
      '...',
      ' ',
      '  ',
      '\n',
      '\r\n',
      '\n\n',
      '\t',
      '1',
      '12345',
      '漢字',
      'ça',
      'straße',
      '😀',
      '👩‍💻',
      '<|eot_id|>',
      '<|begin_of_text|>',
      '<|',
      '|>',
      '<|nope|>',
      'x',
      'Ġ',
      '\u00a0',
      '\ud800',
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        expect(countPromptTokens(text)).toBe(library(text));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(countPromptTokens(text)).toBe(library(text));
      }),
      { numRuns: 300 },
    );
  });

  it("equals the library on this repository's docs and sources, line by line and whole", () => {
    const files = ['README.md', 'CONTRIBUTING.md', 'services/admission/src/domain/openai-format.ts', 'packages/pricing/src/price-usage.ts'];
    for (const file of files) {
      const text = readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8');
      expect(createTokenCounter()(text)).toBe(library(text));
      for (const line of text.split('\n')) expect(countPromptTokens(line)).toBe(library(line));
    }
  });

  it('gives the same count from a warm memo as from a cold one', () => {
    const text = 'The switchyard routes every request to a pool of GPUs.\n\nIt bills   each token once.';
    const cold = createTokenCounter()(text);
    expect(countPromptTokens(text)).toBe(cold);
    expect(countPromptTokens(text)).toBe(cold);
    expect(cold).toBe(library(text));
  });

  it('counts a megabyte-long run of one letter without overflowing the stack, close to the exact count', () => {
    const count = createTokenCounter({ maxPieceChars: 256 });
    // The library itself throws RangeError on a single piece this long.
    expect(count('a'.repeat(1024 * 1024))).toBe(1 + (1024 * 1024) / 8);
    const exact = library('b'.repeat(4096));
    expect(Math.abs(count('b'.repeat(4096)) - exact)).toBeLessThanOrEqual(4096 / 256);
  });

  it('stops counting once past stopAbove and reports more than it', () => {
    const text = 'word '.repeat(10_000);
    const full = countPromptTokens(text);
    const early = countPromptTokens(text, { stopAbove: 100 });
    expect(early).toBeGreaterThan(100);
    expect(early).toBeLessThan(full);
    expect(countPromptTokens('Hello world', { stopAbove: 100 })).toBe(3);
  });
});
