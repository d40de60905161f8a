import { createHash } from 'node:crypto';

/** Tokens per prompt block that prefix caching identifies, unless configured otherwise. */
export const DEFAULT_PREFIX_BLOCK_TOKENS = 64;

/**
 * The identity of a prompt's prefixes for a KV cache: one hash per full block of `blockTokens`
 * token ids, each chained to the one before (block i's hash covers blocks 0..i, as vLLM's block
 * hashes do), so two prompts share hash i exactly when they share their first i + 1 blocks. A
 * trailing part block has no hash: caches keep whole blocks only.
 *
 * The chain starts from `scope` (the tenant): equal prompts of different tenants never share
 * a block, so no tenant can learn from another's cache hits what that one has been asking.
 * Hashes are SHA-256 cut to 53 bits, whole numbers JavaScript and protobuf carry exactly; a
 * chance collision needs about 2^26 blocks of one tenant in one cache.
 */
export function prefixBlockHashes(tokenIds: ArrayLike<number>, blockTokens: number, scope: string): number[] {
  if (!Number.isInteger(blockTokens) || blockTokens < 1) throw new RangeError(`block size must be a whole number of tokens >= 1, got ${blockTokens}`);
  const blocks = Math.floor(tokenIds.length / blockTokens);
  const hashes = new Array<number>(blocks);
  const ids = new Uint32Array(blockTokens);
  let previous = createHash('sha256').update(`${blockTokens}:${scope}`).digest();
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < blockTokens; i++) ids[i] = tokenIds[b * blockTokens + i]!;
    previous = createHash('sha256').update(previous).update(ids).digest();
    hashes[b] = previous.readUIntBE(0, 6) * 32 + (previous[6]! >>> 3);
  }
  return hashes;
}
