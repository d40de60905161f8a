import llama3Tokenizer from 'llama3-tokenizer-js';

/**
 * Llama 3's pre-tokenizer pattern as llama3-tokenizer-js 1.2.0 compiles it (its
 * `CLEAN_LLAMA3_REGEX_STRING`, the `(?i:...)` group spelled out for JavaScript). Byte-pair merges
 * never cross these pieces, so a text's count is the sum of its pieces' counts.
 */
const PRETOKEN =
  /(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** The special tokens the library recognises inside text; each counts as one token. */
const SPECIAL =
  /<\|(?:begin_of_text|end_of_text|start_header_id|end_header_id|eot_id|eom_id|python_tag|finetune_right_pad_id|reserved_special_token_(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-3][0-9]|24[0-7]))\|>/g;

export interface TokenCounterOptions {
  /** Distinct pieces whose counts are remembered across calls; the memo is emptied when full. Default 50,000. */
  readonly cacheEntries?: number;
  /**
   * Pieces longer than this many characters (a run of one letter, space or symbol class; no
   * natural text has one) are counted in slices of this length, which may differ from the exact
   * count by a token per slice but keeps the cost linear and the library's stack safe. Default 256.
   */
  readonly maxPieceChars?: number;
}

export interface CountOptions {
  /**
   * Stop once the count exceeds this and return what was counted so far (already above it), so
   * a prompt far over a limit costs no more than the limit's worth of work. Default: count all.
   */
  readonly stopAbove?: number;
}

export type PromptTokenCounter = (text: string, options?: CountOptions) => number;

/**
 * A counter of Llama 3 prompt tokens: `<|begin_of_text|>` plus the tokens of `text`, exactly as
 * llama3-tokenizer-js encodes it (`encode(text, { bos: true, eos: false })`), for pieces up to
 * `maxPieceChars`. It splits the text the way the tokenizer does and remembers each piece's
 * count, so text made of words seen before costs a regex pass and a map lookup per word instead
 * of byte-pair merging.
 */
export function createTokenCounter(options: TokenCounterOptions = {}): PromptTokenCounter {
  const cacheEntries = options.cacheEntries ?? 50_000;
  const maxPieceChars = options.maxPieceChars ?? 256;
  const memo = new Map<string, number>();

  const encodeCount = (piece: string) => llama3Tokenizer.encode(piece, { bos: false, eos: false }).length;

  const pieceCount = (piece: string): number => {
    const known = memo.get(piece);
    if (known !== undefined) return known;
    let n = 0;
    if (piece.length <= maxPieceChars) n = encodeCount(piece);
    else for (let at = 0; at < piece.length; at += maxPieceChars) n += pieceCount(piece.slice(at, at + maxPieceChars));
    if (memo.size >= cacheEntries) memo.clear();
    if (piece.length <= maxPieceChars) memo.set(piece, n);
    return n;
  };

  /** Counts the pieces of text that holds no special token; the gaps between matches count too, as the library keeps them. */
  const countPlain = (text: string, start: number, stopAbove: number): number => {
    let n = start;
    let prev = 0;
    for (const m of text.matchAll(PRETOKEN)) {
      if (prev < m.index) n += pieceCount(text.slice(prev, m.index));
      if (m[0].length > 0) n += pieceCount(m[0]);
      prev = m.index + m[0].length;
      if (n > stopAbove) return n;
    }
    if (prev < text.length) n += pieceCount(text.slice(prev));
    return n;
  };

  return (text, countOptions = {}) => {
    const stopAbove = countOptions.stopAbove ?? Infinity;
    let n = 1;
    let prev = 0;
    for (const m of text.matchAll(SPECIAL)) {
      if (prev < m.index) n = countPlain(text.slice(prev, m.index), n, stopAbove);
      n += 1;
      prev = m.index + m[0].length;
      if (n > stopAbove) return n;
    }
    if (prev < text.length) n = countPlain(prev === 0 ? text : text.slice(prev), n, stopAbove);
    return n;
  };
}

/**
 * Prompt tokens of `text` for a Llama 3.x model: what limits, budget reservations and billing
 * count. Includes the `<|begin_of_text|>` token the model is given before the text.
 */
export const countPromptTokens: PromptTokenCounter = createTokenCounter();
