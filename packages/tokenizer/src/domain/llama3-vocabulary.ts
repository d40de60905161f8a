/**
 * Llama 3's byte-level BPE tables in typed arrays: about 10 MB, against the ~100 MB that
 * llama3-tokenizer-js keeps as 128k token strings, a string-keyed vocabulary Map and a Map of
 * ~280k "tokA tokB" merge keys. Built from the same data the library bakes in (its base64 vocabulary
 * and its 17-bit packed merges), so lookups give what the library's Maps give.
 */
export interface Llama3Vocabulary {
  /** The token made of exactly these bytes, or -1. */
  readonly tokenOf: (bytes: Uint8Array, start: number, end: number) => number;
  /** The token of one byte. */
  readonly byteToken: Int32Array;
  /** The rank of merging `left` then `right` (lower merges first), or -1 when they never merge. */
  readonly mergeRank: (left: number, right: number) => number;
  /** The token that merging `left` then `right` gives; call only when `mergeRank` is not -1. */
  readonly mergeResult: (left: number, right: number) => number;
}

/**
 * The special tokens llama3-tokenizer-js 1.2.0 appends after the 128,000 byte-level tokens, in its
 * order (its `llama3SpecialTokens`).
 */
function specialTokens(): string[] {
  const named = [
    '<|begin_of_text|>',
    '<|end_of_text|>',
    '<|reserved_special_token_0|>',
    '<|reserved_special_token_1|>',
    '<|finetune_right_pad_id|>',
    '<|reserved_special_token_2|>',
    '<|start_header_id|>',
    '<|end_header_id|>',
    '<|eom_id|>',
    '<|eot_id|>',
    '<|python_tag|>',
  ];
  for (let i = 3; i <= 247; i++) named.push(`<|reserved_special_token_${i}|>`);
  return named;
}

/**
 * GPT-2's byte-to-unicode table reversed: the code point that stands for each byte in the
 * vocabulary's text, mapped back to the byte (printable bytes stand for themselves, the others for
 * U+0100 onwards).
 */
function unicodeToByte(): Int16Array {
  const table = new Int16Array(0x144).fill(-1);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[printable ? b : next++] = b;
  }
  return table;
}

/** FNV-1a over a byte range. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function hashPair(left: number, right: number): number {
  const h = Math.imul(left ^ Math.imul(right, 0x9e3779b1), 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}

const powerOfTwoAbove = (n: number) => 2 ** Math.ceil(Math.log2(n * 1.5));

/** Token bytes end to end; token `id` is `bytes[start[id]]` up to `bytes[start[id + 1]]`. */
interface TokenBytes {
  readonly bytes: Uint8Array;
  readonly start: Uint32Array;
}

/** The vocabulary's lines turned back into bytes, then the special tokens (ASCII, which stands for itself). */
function tokenBytes(vocabulary: Uint8Array): TokenBytes {
  const toByte = unicodeToByte();
  const specials = new TextEncoder().encode(specialTokens().join('\n'));
  // Each vocabulary character stands for one token byte, so the token bytes are at most as many as the text's.
  const bytes = new Uint8Array(vocabulary.length + specials.length);
  const starts: number[] = [0];
  let at = 0;
  const text = new Uint8Array(vocabulary.length + 1 + specials.length);
  text.set(vocabulary, 0);
  // The text has no newline after its last token; like the library's split("\n"), a trailing one would add an empty token.
  text[vocabulary.length] = 0x0a;
  text.set(specials, vocabulary.length + 1);
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === 0x0a) {
      starts.push(at);
      i += 1;
      continue;
    }
    let point: number;
    if (c < 0x80) {
      point = c;
      i += 1;
    } else if (c >= 0xc0 && c < 0xe0) {
      point = ((c & 0x1f) << 6) | (text[i + 1]! & 0x3f);
      i += 2;
    } else {
      throw new Error(`Llama 3 vocabulary: unexpected UTF-8 byte 0x${c.toString(16)} at ${i}`);
    }
    const b = point < toByte.length ? toByte[point]! : -1;
    if (b < 0) throw new Error(`Llama 3 vocabulary: U+${point.toString(16)} stands for no byte`);
    bytes[at++] = b;
  }
  starts.push(at);
  return { bytes, start: Uint32Array.from(starts) };
}

/** Token bytes hashed by open addressing: id + 1 per slot, 0 for empty. */
class TokenIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(private readonly tokens: TokenBytes) {
    const count = tokens.start.length - 1;
    this.mask = powerOfTwoAbove(count) - 1;
    this.slots = new Int32Array(this.mask + 1);
    // A later token with the same bytes wins, as in the library's Map.
    for (let id = 0; id < count; id++) this.slots[this.slotOf(tokens.bytes, tokens.start[id]!, tokens.start[id + 1]!)] = id + 1;
  }

  /** The token made of `key[from..to)`, or -1. */
  tokenOf(key: Uint8Array, from: number, to: number): number {
    return this.slots[this.slotOf(key, from, to)]! - 1;
  }

  private slotOf(key: Uint8Array, from: number, to: number): number {
    let slot = hashBytes(key, from, to) & this.mask;
    while (this.slots[slot] !== 0 && !this.holds(this.slots[slot]! - 1, key, from, to)) slot = (slot + 1) & this.mask;
    return slot;
  }

  private holds(id: number, key: Uint8Array, from: number, to: number): boolean {
    const { bytes, start } = this.tokens;
    const s = start[id]!;
    if (start[id + 1]! - s !== to - from) return false;
    for (let k = 0; k < to - from; k++) if (bytes[s + k] !== key[from + k]) return false;
    return true;
  }
}

/** The library's bit unpacking: 17 bits per id, big-endian, read three bytes at a time. */
function unpackIds(merges: Uint8Array): Int32Array {
  const ids = new Int32Array(Math.floor((merges.length * 8) / 17));
  for (let k = 0, bit = 0; k < ids.length; k++, bit += 17) {
    const i = bit >> 3;
    const word = (merges[i]! << 16) | (merges[i + 1]! << 8) | merges[i + 2]!;
    ids[k] = (word >> (7 - (bit & 7))) & 0x1ffff;
  }
  return ids;
}

/** Merge pairs hashed by open addressing, with their rank and the token they give. */
class MergeIndex {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly ranks: Int32Array;
  private readonly results: Int32Array;
  private readonly mask: number;

  constructor(ids: Int32Array, tokens: TokenBytes, index: TokenIndex) {
    const pairs = ids.length >> 1;
    const count = tokens.start.length - 1;
    this.mask = powerOfTwoAbove(pairs) - 1;
    this.left = new Int32Array(this.mask + 1).fill(-1);
    this.right = new Int32Array(this.mask + 1);
    this.ranks = new Int32Array(this.mask + 1);
    this.results = new Int32Array(this.mask + 1);
    const { bytes, start } = tokens;
    const joined = new Uint8Array(1024);
    for (let p = 0; p < pairs; p++) {
      const left = ids[2 * p]!;
      const right = ids[2 * p + 1]!;
      if (left >= count || right >= count) throw new Error(`Llama 3 merges: pair ${p} names a token past the vocabulary`);
      const leftLength = start[left + 1]! - start[left]!;
      const rightLength = start[right + 1]! - start[right]!;
      for (let k = 0; k < leftLength; k++) joined[k] = bytes[start[left]! + k]!;
      for (let k = 0; k < rightLength; k++) joined[leftLength + k] = bytes[start[right]! + k]!;
      const result = index.tokenOf(joined, 0, leftLength + rightLength);
      if (result < 0) throw new Error(`Llama 3 merges: pair ${p} merges into no token`);
      const slot = this.slotOf(left, right);
      this.left[slot] = left;
      this.right[slot] = right;
      this.ranks[slot] = 2 * p + 1;
      this.results[slot] = result;
    }
  }

  rank(left: number, right: number): number {
    const slot = this.slotOf(left, right);
    return this.left[slot] === -1 ? -1 : this.ranks[slot]!;
  }

  result(left: number, right: number): number {
    return this.results[this.slotOf(left, right)]!;
  }

  private slotOf(left: number, right: number): number {
    let slot = hashPair(left, right) & this.mask;
    while (this.left[slot] !== -1 && (this.left[slot] !== left || this.right[slot] !== right)) slot = (slot + 1) & this.mask;
    return slot;
  }
}

/**
 * Decodes llama3-tokenizer-js's baked data: `vocabulary` is its `llama_vocab_base64` decoded (token
 * strings in GPT-2's byte-to-unicode alphabet, one per line, the line number the id), `merges` its
 * `llama_merges_binary` decoded (pairs of 17-bit token ids; the n-th pair has rank 2n+1, a later
 * duplicate overriding an earlier one, as in the library's Map).
 */
export function decodeLlama3Vocabulary(vocabulary: Uint8Array, merges: Uint8Array): Llama3Vocabulary {
  const tokens = tokenBytes(vocabulary);
  const index = new TokenIndex(tokens);
  const byteToken = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const id = index.tokenOf(Uint8Array.of(b), 0, 1);
    if (id < 0) throw new Error(`Llama 3 vocabulary: no token for byte ${b}`);
    byteToken[b] = id;
  }
  const mergeIndex = new MergeIndex(unpackIds(merges), tokens, index);
  return {
    tokenOf: (key, from, to) => index.tokenOf(key, from, to),
    byteToken,
    mergeRank: (left, right) => mergeIndex.rank(left, right),
    mergeResult: (left, right) => mergeIndex.result(left, right),
  };
}
