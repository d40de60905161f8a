import type { WorkerHeartbeat } from '@switchyard/contracts';

export interface Affine {
  /** The worker the scheduler expects to hold the prompt's prefix; '' for any. */
  readonly worker: string;
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
 * `open` (see {@link takesOwnBatches}), otherwise to the whole pool (key '').
 */
export function splitByWorker<T extends Affine>(batch: readonly T[], open: ReadonlySet<string>): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const q of batch) {
    const to = q.worker && open.has(q.worker) ? q.worker : '';
    const group = out.get(to);
    if (group) group.push(q);
    else out.set(to, [q]);
  }
  return out;
}
