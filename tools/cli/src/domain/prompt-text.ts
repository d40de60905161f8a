/**
 * Prompt text of a requested token count, without tokenizing per request: each of these words,
 * after a space, is one Llama 3 token, and the tokenizer splits space-led words apart, so n
 * words are n tokens, plus the `<|begin_of_text|>` token every prompt is counted with
 * (prompt-text.test.ts checks both against `countPromptTokens`).
 */
const WORDS = (
  'time year people way day man thing woman life child world school state family student group country problem hand part ' +
  'place case week company system program question work government number night point home water room mother area money ' +
  'story fact month lot right study book eye job word business issue side kind head house service friend father power hour ' +
  'game line end member law car city community name president team minute idea kid body information back parent face others ' +
  'level office door health person art war history party result change morning reason research girl guy moment air teacher force education'
)
  .split(' ')
  .map((w) => ` ${w}`);

/** Tokens the count adds to any text: the `<|begin_of_text|>` token. */
export const PROMPT_OVERHEAD_TOKENS = 1;

/** Mooncake's block size: each `hash_ids` entry stands for this many prompt tokens. */
export const BLOCK_TOKENS = 512;

/** A word stream seeded by `seed` (xorshift32), so one seed is always the same text. */
function words(seed: number, count: number): string {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const out: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = WORDS[s % WORDS.length]!;
  }
  return out.join('');
}

export interface PromptOptions {
  /** Mooncake block ids: block i of the prompt is the text of `hashIds[i]`, so equal ids give equal prefixes. */
  readonly hashIds?: readonly number[];
  /** Seed of the text past the blocks (and of the whole prompt without blocks), e.g. the row's line. */
  readonly seed: number;
}

/**
 * Text that counts as `tokens` prompt tokens (at least 1: the begin-of-text token alone is an
 * empty prompt). With `hashIds`, the first blocks are the blocks' own text, the last one cut
 * short where the prompt ends; tokens past the blocks come from `seed`.
 */
export function promptText(tokens: number, options: PromptOptions): string {
  let left = Math.max(0, tokens - PROMPT_OVERHEAD_TOKENS);
  const parts: string[] = [];
  for (const id of options.hashIds ?? []) {
    if (left === 0) break;
    const n = Math.min(BLOCK_TOKENS, left);
    parts.push(blockText(id).slice(0, wordsEnd(blockText(id), n)));
    left -= n;
  }
  // Seeds of blocks are non-negative ids; the tail's seed is kept apart from them.
  if (left > 0) parts.push(words(-1 - options.seed, left));
  return parts.join('');
}

const blocks = new Map<number, string>();

/** A block's text, kept: traces reuse a block id many times. */
function blockText(id: number): string {
  let text = blocks.get(id);
  if (text === undefined) {
    text = words(id, BLOCK_TOKENS);
    if (blocks.size > 50_000) blocks.clear();
    blocks.set(id, text);
  }
  return text;
}

/** Where the first `n` words of `text` end. */
function wordsEnd(text: string, n: number): number {
  let seen = 0;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === ' ' && ++seen === n) return i;
  }
  return text.length;
}
