import type { WorkerHeartbeat } from '@switchyard/contracts';

export interface Affine {
  /** The worker the scheduler expects to hold the prompt's prefix; '' for any. */
  readonly worker: string;
  /** Prompt tokens that worker is expected to read from its cache: the prefill work it saves there. */
  readonly hitTokens: number;
  readonly promptTokens: number;
}

/**
 * Whether a batch may go to this worker alone: it is alive and not draining (`beat` is its
 * fresh heartbeat), announced a free slot, and has taken everything handed to it so far
 * (`undelivered`: batches on its own queue it has not pulled). A worker that stops pulling is
 * full, as a pool whose queue backs up is; its requests go to the whole pool instead.
 */
export function takesOwnBatches(beat: WorkerHeartbeat | undefined, undelivered: number): boolean {
  return beat !== undefined && !beat.draining && beat.freeSlots > 0 && undelivered === 0;
}

/**
 * Splits a batch by where each request goes: to the worker named for it when that worker is
 * open (see {@link takesOwnBatches}) and the hit is worth the wait: the prompt work queued on it
 * (`backlog`, tokens) may exceed the shortest queue of the open workers by no more than the
 * prefill the hit saves. Otherwise the whole pool takes it (key ''): a hot prefix does not pile
 * every request onto one GPU. Each request given to a worker adds its uncached prompt to that
 * worker's backlog, so the rest of the batch sees it.
 */
export function splitByWorker<T extends Affine>(batch: readonly T[], backlog: Map<string, number>): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const q of batch) {
    const queued = q.worker ? backlog.get(q.worker) : undefined;
    const to = queued !== undefined && queued - Math.min(...backlog.values()) <= q.hitTokens ? q.worker : '';
    if (to) backlog.set(to, queued! + Math.max(0, q.promptTokens - q.hitTokens));
    const group = out.get(to);
    if (group) group.push(q);
    else out.set(to, [q]);
  }
  return out;
}
