import type { Llama3Vocabulary } from './llama3-vocabulary.js';

/**
 * Llama 3's pre-tokenizer pattern as llama3-tokenizer-js 1.2.0 (MIT, belladore.ai) compiles it (its
 * `CLEAN_LLAMA3_REGEX_STRING`, the `(?i:...)` group spelled out for JavaScript). Byte-pair merges
 * never cross these pieces, so a text's count is the sum of its pieces' counts.
 */
const PRETOKEN =
  /(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** The special tokens the library recognises inside text; each is one token. */
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
/** Token ids of a prompt, `<|begin_of_text|>` first; stops as {@link CountOptions} says. Half the memory of the prompt's own text. */
export type PromptEncoder = (text: string, options?: CountOptions) => Int32Array;

/** The library's special tokens in id order from 128,000 (Llama 3's own order). */
const SPECIAL_NAMES = [
  'begin_of_text',
  'end_of_text',
  'reserved_special_token_0',
  'reserved_special_token_1',
  'finetune_right_pad_id',
  'reserved_special_token_2',
  'start_header_id',
  'end_header_id',
  'eom_id',
  'eot_id',
  'python_tag',
  ...Array.from({ length: 245 }, (_, i) => `reserved_special_token_${i + 3}`),
];
const SPECIAL_IDS = new Map(SPECIAL_NAMES.map((name, i) => [`<|${name}|>`, 128_000 + i]));
const BEGIN_OF_TEXT = 128_000;

/**
 * Llama 3 prompt tokens: `<|begin_of_text|>` plus the tokens of `text`, exactly as
 * llama3-tokenizer-js encodes it (`encode(text, { bos: true, eos: false })`), for pieces up to
 * `maxPieceChars`; counted, or as ids. It splits the text the way the tokenizer does and
 * remembers each piece's ids, so text made of words seen before costs a regex pass and a map
 * lookup per word instead of byte-pair merging.
 */
export function createLlama3Tokenizer(vocabulary: Llama3Vocabulary, options: TokenCounterOptions = {}): { count: PromptTokenCounter; encode: PromptEncoder } {
  const cacheEntries = options.cacheEntries ?? 50_000;
  const maxPieceChars = options.maxPieceChars ?? 256;
  const memo = new Map<string, Int32Array>();
  const encoder = new TextEncoder();
  // A UTF-16 unit takes at most 3 UTF-8 bytes (a surrogate pair, two units, takes 4).
  let bytes = new Uint8Array(3 * maxPieceChars);
  let tokens = new Int32Array(3 * maxPieceChars);
  let ranks = new Int32Array(3 * maxPieceChars);

  /**
   * The library's byte-pair merging: a piece that is a token is one; otherwise start from its
   * bytes and merge the adjacent pair of lowest merge rank, leftmost first, until no pair merges.
   */
  const encodePiece = (piece: string): Int32Array => {
    if (bytes.length < 3 * piece.length) {
      bytes = new Uint8Array(3 * piece.length);
      tokens = new Int32Array(3 * piece.length);
      ranks = new Int32Array(3 * piece.length);
    }
    let n = encoder.encodeInto(piece, bytes).written;
    const whole = vocabulary.tokenOf(bytes, 0, n);
    if (whole >= 0) return Int32Array.of(whole);
    for (let i = 0; i < n; i++) tokens[i] = vocabulary.byteToken[bytes[i]!]!;
    for (let i = 0; i + 1 < n; i++) ranks[i] = vocabulary.mergeRank(tokens[i]!, tokens[i + 1]!);
    for (;;) {
      let best = -1;
      for (let i = 0; i + 1 < n; i++) {
        const rank = ranks[i]!;
        if (rank >= 0 && (best < 0 || rank < ranks[best]!)) best = i;
      }
      if (best < 0) return tokens.slice(0, n);
      tokens[best] = vocabulary.mergeResult(tokens[best]!, tokens[best + 1]!);
      tokens.copyWithin(best + 1, best + 2, n);
      ranks.copyWithin(best + 1, best + 2, n);
      n -= 1;
      if (best > 0) ranks[best - 1] = vocabulary.mergeRank(tokens[best - 1]!, tokens[best]!);
      if (best + 1 < n) ranks[best] = vocabulary.mergeRank(tokens[best]!, tokens[best + 1]!);
    }
  };

  /** A piece's ids; one longer than `maxPieceChars` is encoded in slices and not remembered. */
  const pieceIds = (piece: string, emit: (ids: Int32Array) => void): void => {
    if (piece.length > maxPieceChars) {
      for (let at = 0; at < piece.length; at += maxPieceChars) pieceIds(piece.slice(at, at + maxPieceChars), emit);
      return;
    }
    let ids = memo.get(piece);
    if (ids === undefined) {
      ids = encodePiece(piece);
      if (memo.size >= cacheEntries) memo.clear();
      memo.set(piece, ids);
    }
    emit(ids);
  };

  /**
   * Walks the prompt's tokens in order, a piece at a time: `emitted` returns the tokens so far,
   * and the walk stops once they pass `stopAbove`. Between special tokens the text is split by
   * the pre-tokenizer; the gaps between its matches are pieces too, as the library keeps them.
   */
  const walk = (text: string, stopAbove: number, emit: (ids: Int32Array) => void, emitted: () => number): void => {
    const plain = (part: string): boolean => {
      let prev = 0;
      for (const m of part.matchAll(PRETOKEN)) {
        if (prev < m.index) pieceIds(part.slice(prev, m.index), emit);
        if (m[0].length > 0) pieceIds(m[0], emit);
        prev = m.index + m[0].length;
        if (emitted() > stopAbove) return false;
      }
      if (prev < part.length) pieceIds(part.slice(prev), emit);
      return emitted() <= stopAbove;
    };
    emit(Int32Array.of(BEGIN_OF_TEXT));
    let prev = 0;
    for (const m of text.matchAll(SPECIAL)) {
      if (prev < m.index && !plain(text.slice(prev, m.index))) return;
      emit(Int32Array.of(SPECIAL_IDS.get(m[0])!));
      prev = m.index + m[0].length;
      if (emitted() > stopAbove) return;
    }
    if (prev < text.length) plain(prev === 0 ? text : text.slice(prev));
  };

  return {
    count(text, countOptions = {}) {
      let n = 0;
      walk(
        text,
        countOptions.stopAbove ?? Infinity,
        (ids) => (n += ids.length),
        () => n,
      );
      return n;
    },
    encode(text, countOptions = {}) {
      // Most prompts take fewer tokens than a quarter of their characters, plus BOS.
      let out = new Int32Array(Math.floor(Math.min(text.length, 1 << 16) / 4) + 16);
      let n = 0;
      walk(
        text,
        countOptions.stopAbove ?? Infinity,
        (ids) => {
          if (n + ids.length > out.length) {
            const grown = new Int32Array(Math.max(2 * out.length, n + ids.length));
            grown.set(out.subarray(0, n));
            out = grown;
          }
          out.set(ids, n);
          n += ids.length;
        },
        () => n,
      );
      return out.slice(0, n);
    },
  };
}
