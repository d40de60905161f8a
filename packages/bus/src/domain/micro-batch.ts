export interface MicroBatchOptions<T, R> {
  /**
   * Handles one batch; resolves with one result per item, in order. A rejection rejects
   * every item of the batch (their messages are then redelivered).
   */
  readonly flush: (items: readonly T[]) => Promise<readonly R[]>;
  /** Items per batch at most. Default 500. */
  readonly maxBatch?: number;
  /** How long the first item of a batch waits for company. Default 5 ms. */
  readonly maxWaitMs?: number;
  /** Batches flushing at once. Default 2. */
  readonly maxParallel?: number;
  /**
   * How long the first item waits for company when nothing is flushing. Default 0: it leaves
   * at once, for work a caller waits on. Work nobody waits on (metering, ledger posting) sets
   * a few ms, so moderate load forms batches too instead of paying a transaction per item.
   */
  readonly lingerMs?: number;
  /**
   * Whether a failed batch of several items is split in halves, and each half flushed again,
   * to find the items that fail on their own (a record the database refuses): without it one
   * such item fails every item it shares a batch with, on every redelivery, and they are
   * dead-lettered together. Not for failures every item shares (the database is down), where
   * splitting would only multiply the attempts. Default: never split.
   */
  readonly splitOnFailure?: (error: unknown) => boolean;
}

export interface MicroBatch<T, R> {
  /** Resolves with the item's result once the batch holding it has flushed. */
  submit(item: T): Promise<R>;
  /** Flushes what is queued and waits for every batch in flight. */
  drain(): Promise<void>;
  /** Items queued or flushing. */
  readonly size: number;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly at: number;
  readonly resolve: (r: R) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Gathers items submitted one by one (e.g. by concurrent message handlers) into batches, so
 * one database transaction or one round trip serves hundreds of messages. Each submitter
 * gets its own result and acks its own message only after its batch flushed. When nothing
 * is flushing a batch leaves at once (or after `lingerMs`); otherwise it waits up to
 * `maxWaitMs` to fill, so batches grow with the load and latency stays low when idle.
 */
export function createMicroBatch<T, R>(options: MicroBatchOptions<T, R>): MicroBatch<T, R> {
  const maxBatch = options.maxBatch ?? 500;
  const maxWaitMs = options.maxWaitMs ?? 5;
  const maxParallel = options.maxParallel ?? 2;
  const lingerMs = options.lingerMs ?? 0;
  let queue: Waiting<T, R>[] = [];
  let flushing = 0;
  let inFlightItems = 0;
  let timer: NodeJS.Timeout | undefined;
  let draining = 0;
  const idle = new Set<() => void>();

  /** Flushes `part` and settles its items; a failure that may be an item's own splits it (a bisection: log2(n) flushes to find one). */
  const settle = async (part: readonly Waiting<T, R>[]): Promise<void> => {
    try {
      const results = await options.flush(part.map((w) => w.item));
      if (results.length !== part.length) throw new Error(`flush returned ${results.length} results for ${part.length} items`);
      part.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (part.length > 1 && options.splitOnFailure?.(e)) {
        const half = Math.ceil(part.length / 2);
        await settle(part.slice(0, half));
        await settle(part.slice(half));
      } else for (const w of part) w.reject(e);
    }
  };
  const flushOne = () => {
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    flushing++;
    inFlightItems += batch.length;
    void (async () => {
      try {
        await settle(batch);
      } finally {
        flushing--;
        inFlightItems -= batch.length;
        pump();
        if (queue.length === 0 && flushing === 0) for (const f of [...idle]) f();
      }
    })();
  };

  const pump = () => {
    while (queue.length > 0 && flushing < maxParallel) {
      const waited = Date.now() - queue[0]!.at;
      const wait = flushing === 0 ? lingerMs : maxWaitMs;
      if (queue.length >= maxBatch || waited >= wait || draining > 0) {
        flushOne();
        continue;
      }
      if (!timer) {
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, wait - waited);
      }
      return;
    }
  };

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, at: Date.now(), resolve, reject });
        pump();
      });
    },
    async drain() {
      if (queue.length === 0 && flushing === 0) return;
      draining++;
      try {
        await new Promise<void>((resolve) => {
          const done = () => {
            idle.delete(done);
            resolve();
          };
          idle.add(done);
          pump();
        });
      } finally {
        draining--;
      }
    },
    get size() {
      return queue.length + inFlightItems;
    },
  };
}
