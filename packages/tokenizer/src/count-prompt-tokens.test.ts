import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { countPromptTokens, createTokenCounter, encodePrompt as encodeTokens, prefixBlockHashes, type CountOptions } from './index.js';

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

describe('encodePrompt', () => {
  const ids = (text: string) => llama3Tokenizer.encode(text, { bos: true, eos: false });
  const encodePrompt = (text: string, options?: CountOptions) => Array.from(encodeTokens(text, options));

  it('gives the token ids the library gives, special tokens included, on any text', () => {
    expect(encodePrompt('Hello world!')).toEqual([128000, 9906, 1917, 0]);
    expect(encodePrompt('<|start_header_id|>user<|end_header_id|>hi<|eot_id|>')).toEqual(ids('<|start_header_id|>user<|end_header_id|>hi<|eot_id|>'));
    expect(encodePrompt('<|reserved_special_token_247|>')).toEqual(ids('<|reserved_special_token_247|>'));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(encodePrompt(text)).toEqual(ids(text));
      }),
      { numRuns: 300 },
    );
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(encodePrompt(readme)).toEqual(ids(readme));
  });

  it('stops once past stopAbove, as counting does', () => {
    const text = 'word '.repeat(10_000);
    expect(encodePrompt(text, { stopAbove: 100 })).toHaveLength(countPromptTokens(text, { stopAbove: 100 }));
  });
});

describe('prefixBlockHashes', () => {
  const encodePrompt = encodeTokens;
  const doc = 'The switchyard routes every request to a pool of GPUs and bills each token once. '.repeat(40);

  it('gives prompts that share their first blocks the same leading hashes, and none after they part', () => {
    const a = encodePrompt(`${doc} Now answer question one, please.`);
    const b = encodePrompt(`${doc} And what about question two?`);
    const [ha, hb] = [prefixBlockHashes(a, 64, 'acme'), prefixBlockHashes(b, 64, 'acme')];
    const shared = a.findIndex((id, i) => id !== b[i]);
    const sharedBlocks = Math.floor(shared / 64);
    expect(sharedBlocks).toBeGreaterThan(5);
    expect(ha.slice(0, sharedBlocks)).toEqual(hb.slice(0, sharedBlocks));
    // Chained: once one block differs, no later hash matches, whatever the later tokens are.
    for (let i = sharedBlocks; i < Math.min(ha.length, hb.length); i++) expect(ha[i]).not.toBe(hb[i]);
    expect(ha).toHaveLength(Math.floor(a.length / 64));
  });

  it('never shares a block between tenants or block sizes, and stays a safe integer', () => {
    const ids = encodePrompt(doc);
    const acme = prefixBlockHashes(ids, 64, 'acme');
    const globex = prefixBlockHashes(ids, 64, 'globex');
    expect(acme.some((h) => globex.includes(h))).toBe(false);
    expect(prefixBlockHashes(ids, 32, 'acme').some((h) => acme.includes(h))).toBe(false);
    expect(acme.every((h) => Number.isSafeInteger(h) && h >= 0)).toBe(true);
    expect(new Set(acme).size).toBe(acme.length);
    expect(prefixBlockHashes(ids.slice(0, 63), 64, 'acme')).toEqual([]);
    expect(() => prefixBlockHashes(ids, 0, 'acme')).toThrow(/block size/);
  });
});
