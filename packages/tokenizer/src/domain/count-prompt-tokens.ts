import type { Llama3Vocabulary } from './llama3-vocabulary.js';

/**
 * Llama 3's pre-tokenizer pattern as llama3-tokenizer-js 1.2.0 (MIT, belladore.ai) compiles it (its
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
   * count by a token per slice (the library throws on the longest) but
   * keeps the cost linear: merging a piece is quadratic in its length. Default 256.
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
export function createLlama3Counter(vocabulary: Llama3Vocabulary, options: TokenCounterOptions = {}): PromptTokenCounter {
  const cacheEntries = options.cacheEntries ?? 50_000;
  const maxPieceChars = options.maxPieceChars ?? 256;
  const memo = new Map<string, number>();
  const encoder = new TextEncoder();
  // A UTF-16 unit takes at most 3 UTF-8 bytes (a surrogate pair, two units, takes 4).
  let bytes = new Uint8Array(3 * maxPieceChars);
  let tokens = new Int32Array(3 * maxPieceChars);
  let ranks = new Int32Array(3 * maxPieceChars);

  /**
   * The library's byte-pair merging, counted: a piece that is a token is one; otherwise start from
   * its bytes and merge the adjacent pair of lowest merge rank, leftmost first, until no pair merges.
   */
  const encodeCount = (piece: string) => {
    if (bytes.length < 3 * piece.length) {
      bytes = new Uint8Array(3 * piece.length);
      tokens = new Int32Array(3 * piece.length);
      ranks = new Int32Array(3 * piece.length);
    }
    let n = encoder.encodeInto(piece, bytes).written;
    if (vocabulary.tokenOf(bytes, 0, n) >= 0) return 1;
    for (let i = 0; i < n; i++) tokens[i] = vocabulary.byteToken[bytes[i]!]!;
    for (let i = 0; i + 1 < n; i++) ranks[i] = vocabulary.mergeRank(tokens[i]!, tokens[i + 1]!);
    for (;;) {
      let best = -1;
      for (let i = 0; i + 1 < n; i++) {
        const rank = ranks[i]!;
        if (rank >= 0 && (best < 0 || rank < ranks[best]!)) best = i;
      }
      if (best < 0) return n;
      tokens[best] = vocabulary.mergeResult(tokens[best]!, tokens[best + 1]!);
      tokens.copyWithin(best + 1, best + 2, n);
      ranks.copyWithin(best + 1, best + 2, n);
      n -= 1;
      if (best > 0) ranks[best - 1] = vocabulary.mergeRank(tokens[best - 1]!, tokens[best]!);
      if (best + 1 < n) ranks[best] = vocabulary.mergeRank(tokens[best]!, tokens[best + 1]!);
    }
  };

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
