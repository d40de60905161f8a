/** A worker of a pool, as the prefix index names it. */
export interface PrefixHolder {
  readonly pool: string;
  readonly worker: string;
}

/** How many of a prompt's leading blocks one worker holds. */
export interface PrefixHit extends PrefixHolder {
  readonly blocks: number;
}

export interface PrefixIndexOptions {
  /** Block hashes kept at most, over every worker; the oldest stored go first. Default 1,000,000. */
  readonly maxBlocks?: number;
}

/** Blocks dropped at once when the index is full, so a full index does not evict on every store. */
const EVICT_FRACTION = 0.05;

/**
 * Which workers hold which prompt blocks, from the workers' KV events: the scheduler's guess of
 * where a prompt's prefix is cached. One map from block hash to its holders (a worker number, or
 * several), in order of storing, so memory is one map entry per block (see `pnpm bench:placement`
 * for the bytes per block) and `maxBlocks` bounds it; a block forgotten early only makes the
 * guess worse, never a request wrong. A worker that dies or whose events were lost is dropped
 * or replaced by its snapshot in one pass over the map: rare events, paid for then.
 */
export function createPrefixIndex(options: PrefixIndexOptions = {}) {
  const maxBlocks = options.maxBlocks ?? 1_000_000;
  /** Per block: its one holder, or the set of them (shared prefixes: system prompts, documents). */
  const holders = new Map<number, number | Set<number>>();
  const slots = new Map<string, number>();
  const names: PrefixHolder[] = [];
  const keyOf = (pool: string, worker: string) => `${pool}\u0000${worker}`;
  const slotOf = (pool: string, worker: string): number => {
    const key = keyOf(pool, worker);
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = names.length;
      names.push({ pool, worker });
      slots.set(key, slot);
    }
    return slot;
  };
  const holds = (h: number | Set<number> | undefined, slot: number) => (typeof h === 'number' ? h === slot : h !== undefined && h.has(slot));

  const add = (hash: number, slot: number) => {
    const h = holders.get(hash);
    // Stored again: now the most recently stored block.
    holders.delete(hash);
    if (h === undefined || h === slot) holders.set(hash, slot);
    else if (typeof h === 'number') holders.set(hash, new Set([h, slot]));
    else holders.set(hash, h.add(slot));
  };
  const remove = (hash: number, slot: number) => {
    const h = holders.get(hash);
    if (h === undefined) return;
    if (typeof h === 'number') {
      if (h === slot) holders.delete(hash);
      return;
    }
    if (!h.delete(slot)) return;
    if (h.size === 1) holders.set(hash, h.values().next().value!);
  };
  /** Removes every block of `slot`: one pass over the map. */
  const clear = (slot: number) => {
    for (const [hash, h] of holders) if (holds(h, slot)) remove(hash, slot);
  };
  const bound = () => {
    if (holders.size <= maxBlocks) return;
    let drop = holders.size - Math.floor(maxBlocks * (1 - EVICT_FRACTION));
    for (const hash of holders.keys()) {
      if (drop-- <= 0) break;
      holders.delete(hash);
    }
  };

  return {
    /** A worker stored these blocks (its KV event). */
    stored(pool: string, worker: string, hashes: readonly number[]) {
      const slot = slotOf(pool, worker);
      for (const hash of hashes) add(hash, slot);
      bound();
    },
    /** A worker evicted these blocks. */
    evicted(pool: string, worker: string, hashes: readonly number[]) {
      const slot = slots.get(keyOf(pool, worker));
      if (slot !== undefined) for (const hash of hashes) remove(hash, slot);
    },
    /** Everything a worker holds now, replacing what was known of it (after a restart or lost events). */
    snapshot(pool: string, worker: string, hashes: readonly number[]) {
      const slot = slotOf(pool, worker);
      clear(slot);
      for (const hash of hashes) add(hash, slot);
      bound();
    },
    /** A worker that is gone: none of its blocks count any more. */
    dropWorker(pool: string, worker: string) {
      const slot = slots.get(keyOf(pool, worker));
      if (slot !== undefined) clear(slot);
    },
    /**
     * Every worker holding the prompt's first block, with how many leading blocks it holds
     * (chained hashes: block i matches only after blocks 0..i-1 did). Costs a map lookup per
     * block of the longest hit.
     */
    hits(hashes: readonly number[]): PrefixHit[] {
      const first = hashes.length ? holders.get(hashes[0]!) : undefined;
      if (first === undefined) return [];
      let alive = typeof first === 'number' ? [first] : [...first];
      const out: PrefixHit[] = [];
      for (let i = 1; i < hashes.length && alive.length > 0; i++) {
        const h = holders.get(hashes[i]!);
        const next: number[] = [];
        for (const s of alive) {
          if (holds(h, s)) next.push(s);
          else out.push({ pool: names[s]!.pool, worker: names[s]!.worker, blocks: i });
        }
        alive = next;
      }
      for (const s of alive) out.push({ pool: names[s]!.pool, worker: names[s]!.worker, blocks: hashes.length });
      return out;
    },
    /** Blocks indexed (each counted once, however many workers hold it). */
    size: () => holders.size,
    /** Blocks one worker holds: a pass over the index, for operators and tests. */
    heldBy(pool: string, worker: string): number {
      const slot = slots.get(keyOf(pool, worker));
      if (slot === undefined) return 0;
      let n = 0;
      for (const h of holders.values()) if (holds(h, slot)) n++;
      return n;
    },
  };
}

export type PrefixIndex = ReturnType<typeof createPrefixIndex>;
