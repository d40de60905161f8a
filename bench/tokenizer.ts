/**
 * The cost of counting prompt tokens on admission's hot path: µs per call for ~4k-token prompts
 * cut from this repository's own README, CONTRIBUTING and sources (prose, code, tables), counted
 * by llama3-tokenizer-js alone and by `countPromptTokens` with a cold and a warm piece memo.
 *
 *   pnpm bench:tokenizer
 */
import { readFileSync } from 'node:fs';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { createTokenCounter } from '@switchyard/tokenizer';

const corpus = ['README.md', 'CONTRIBUTING.md', 'services/admission/src/domain/openai-format.ts', 'packages/pricing/src/price-usage.ts']
  .map((f) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8'))
  .join('\n');
const library = (text: string) => llama3Tokenizer.encode(text, { bos: true, eos: false }).length;

// Windows of about 4,000 tokens, each starting at a different place in the corpus.
const prompts: string[] = [];
for (let at = 0; prompts.length < 40; at = (at + 7_919) % corpus.length) {
  let text = corpus.slice(at, at + 16_000);
  while (library(text) < 4_000) text += corpus.slice(0, 2_000);
  prompts.push(text);
}
const tokens = prompts.reduce((a, p) => a + library(p), 0) / prompts.length;

const usPerCall = (count: (text: string) => number, rounds: number) => {
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const p of prompts) count(p);
  return Number(process.hrtime.bigint() - t0) / 1_000 / (rounds * prompts.length);
};

usPerCall(library, 2);
const rows = {
  'llama3-tokenizer-js encode': usPerCall(library, 3),
  'countPromptTokens, cold memo (first sight of every prompt)': usPerCall((p) => createTokenCounter()(p), 3),
  'countPromptTokens, warm memo': (() => {
    const count = createTokenCounter();
    usPerCall(count, 1);
    return usPerCall(count, 10);
  })(),
  'countPromptTokens, 1 MiB of one letter (refused above the limit, stopAbove 32,768)': (() => {
    const hostile = 'q'.repeat(1024 * 1024);
    const t0 = process.hrtime.bigint();
    createTokenCounter()(hostile, { stopAbove: 32_768 });
    return Number(process.hrtime.bigint() - t0) / 1_000;
  })(),
};
console.log(`prompts of ${Math.round(tokens)} tokens on average (${prompts.length} distinct)`);
for (const [name, us] of Object.entries(rows)) console.log(`${name.padEnd(84)} ${us.toFixed(0).padStart(8)} µs/call`);
