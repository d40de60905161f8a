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

const hashPair = (left: number, right: number) => (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca6b)) >>> 0;

const powerOfTwoAbove = (n: number) => 2 ** Math.ceil(Math.log2(n * 1.5));

/**
 * Decodes llama3-tokenizer-js's baked data: `vocabulary` is its `llama_vocab_base64` decoded (token
 * strings in GPT-2's byte-to-unicode alphabet, one per line, the line number the id), `merges` its
 * `llama_merges_binary` decoded (pairs of 17-bit token ids; the n-th pair has rank 2n+1, a later
 * duplicate overriding an earlier one, as in the library's Map).
 */
export function decodeLlama3Vocabulary(vocabulary: Uint8Array, merges: Uint8Array): Llama3Vocabulary {
  const toByte = unicodeToByte();
  // Each vocabulary character stands for one token byte, so the token bytes are at most as many as the text's.
  const specials = specialTokens();
  const ascii = new TextEncoder().encode(specials.join(''));
  const bytes = new Uint8Array(vocabulary.length + ascii.length);
  const starts: number[] = [0];
  let at = 0;
  for (let i = 0; i < vocabulary.length;) {
    const c = vocabulary[i]!;
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
      point = ((c & 0x1f) << 6) | (vocabulary[i + 1]! & 0x3f);
      i += 2;
    } else {
      throw new Error(`Llama 3 vocabulary: unexpected UTF-8 byte 0x${c.toString(16)} at ${i}`);
    }
    const b = point < toByte.length ? toByte[point]! : -1;
    if (b < 0) throw new Error(`Llama 3 vocabulary: U+${point.toString(16)} stands for no byte`);
    bytes[at++] = b;
  }
  // The text has no newline after its last token; like the library's split("\n"), a trailing one would add an empty token.
  starts.push(at);
  for (const special of specials) {
    bytes.set(new TextEncoder().encode(special), at);
    at += special.length;
    starts.push(at);
  }
  const tokens = starts.length - 1;
  const start = Uint32Array.from(starts);

  // Open addressing, id + 1 per slot, 0 for empty; a later token with the same bytes wins, as in the library's Map.
  const vocabMask = powerOfTwoAbove(tokens) - 1;
  const vocabSlots = new Int32Array(vocabMask + 1);
  const sameBytes = (id: number, key: Uint8Array, from: number, to: number) => {
    const s = start[id]!;
    if (start[id + 1]! - s !== to - from) return false;
    for (let k = 0; k < to - from; k++) if (bytes[s + k] !== key[from + k]) return false;
    return true;
  };
  const slotOfBytes = (key: Uint8Array, from: number, to: number) => {
    let slot = hashBytes(key, from, to) & vocabMask;
    while (vocabSlots[slot] !== 0 && !sameBytes(vocabSlots[slot]! - 1, key, from, to)) slot = (slot + 1) & vocabMask;
    return slot;
  };
  for (let id = 0; id < tokens; id++) vocabSlots[slotOfBytes(bytes, start[id]!, start[id + 1]!)] = id + 1;
  const tokenOf = (key: Uint8Array, from: number, to: number) => vocabSlots[slotOfBytes(key, from, to)]! - 1;

  const byteToken = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const id = tokenOf(Uint8Array.of(b), 0, 1);
    if (id < 0) throw new Error(`Llama 3 vocabulary: no token for byte ${b}`);
    byteToken[b] = id;
  }

  // The library's bit unpacking, kept as it is: 17 bits per id, big-endian, reading three bytes at a time.
  const ids: number[] = [];
  const bits = merges.length * 8;
  for (let bit = 0; bit < bits - (bits % 17); bit += 17) {
    const i = bit >> 3;
    const word = ((merges[i] ?? 0) << 16) | ((merges[i + 1] ?? 0) << 8) | (merges[i + 2] ?? 0);
    ids.push((word >> (7 - (bit % 8))) & 0x1ffff);
  }
  const pairs = ids.length >> 1;
  const mergeMask = powerOfTwoAbove(pairs) - 1;
  const mergeLeft = new Int32Array(mergeMask + 1).fill(-1);
  const mergeRight = new Int32Array(mergeMask + 1);
  const mergeRanks = new Int32Array(mergeMask + 1);
  const mergeResults = new Int32Array(mergeMask + 1);
  const slotOfPair = (left: number, right: number) => {
    let slot = hashPair(left, right) & mergeMask;
    while (mergeLeft[slot] !== -1 && (mergeLeft[slot] !== left || mergeRight[slot] !== right)) slot = (slot + 1) & mergeMask;
    return slot;
  };
  const joined = new Uint8Array(1024);
  for (let p = 0; p < pairs; p++) {
    const left = ids[2 * p]!;
    const right = ids[2 * p + 1]!;
    if (left >= tokens || right >= tokens) throw new Error(`Llama 3 merges: pair ${p} names a token past the vocabulary`);
    const leftLength = start[left + 1]! - start[left]!;
    const rightLength = start[right + 1]! - start[right]!;
    joined.set(bytes.subarray(start[left]!, start[left + 1]!), 0);
    joined.set(bytes.subarray(start[right]!, start[right + 1]!), leftLength);
    const result = tokenOf(joined, 0, leftLength + rightLength);
    if (result < 0) throw new Error(`Llama 3 merges: pair ${p} merges into no token`);
    const slot = slotOfPair(left, right);
    mergeLeft[slot] = left;
    mergeRight[slot] = right;
    mergeRanks[slot] = 2 * p + 1;
    mergeResults[slot] = result;
  }

  return {
    tokenOf,
    byteToken,
    mergeRank: (left, right) => {
      const slot = slotOfPair(left, right);
      return mergeLeft[slot] === -1 ? -1 : mergeRanks[slot]!;
    },
    mergeResult: (left, right) => mergeResults[slotOfPair(left, right)]!,
  };
}
