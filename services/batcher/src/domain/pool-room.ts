/**
 * What the batcher knows of a pool's room between heartbeats. Heartbeats come once a second,
 * so the free slots they show are up to a second old; what the pool's workers pulled is known
 * within ~10 ms (the stream's undelivered count). A worker takes a whole batch as soon as it
 * has one free slot and runs the rest of it first come, first served, a queue where neither
 * tiers nor tenants' turns apply: a batch of 16 sent to a full pool put a flood's 16 calls
 * ahead of another tenant's next one. So a pool that looks full gets small batches, and
 * bigger ones only while its workers keep pulling them at once:
 *
 * - slots a heartbeat showed free, less what was sent since it, go out as one batch;
 * - past those, the batch size starts at 1; each time the batches sent were seen pulled (the
 *   workers have room) it becomes twice the larger of itself and what they held, up to
 *   `maxStandby` (the preferred batch size, which every batch to a full-looking pool had
 *   before), and each time they were still there `SETTLE_MS` after the first was sent (no
 *   worker was waiting for them) it halves, down to 1;
 * - below full size only one such batch is out at a time: the next waits for the verdict on
 *   it, so a full pool holds at most one small batch beyond its slots. At full size batches go
 *   without waiting, which a pool that drains in milliseconds needs to stay fed.
 */
export interface PoolRoom {
  /** A batch of `requests` went to the pool's shared queue at `atMs`. */
  sent(requests: number, atMs: number): void;
  /**
   * The pool's shared queue held `undelivered` batches as of `asOfMs` (when the server was
   * asked). Returns how many requests the pool can take now: 0 while every worker has a batch
   * waiting for it, and while a batch below full size is out that no look has judged yet.
   */
  room(beats: readonly Beat[], undelivered: number, asOfMs: number, nowMs: number): number;
}

/** What room needs of a worker's heartbeat. */
export interface Beat {
  readonly atUnixMs: number;
  readonly freeSlots: number;
}

/** Sends remembered at most this long: past every heartbeat the queue still takes as fresh. */
const REMEMBER_MS = 10_000;

/**
 * A batch a worker was waiting for is pulled within a millisecond or two of its publish; one
 * still on the stream this long after it was sent found no worker with room. Sooner, the
 * stream's count may merely not have caught up.
 */
const SETTLE_MS = 5;

export function createPoolRoom(maxStandby: number): PoolRoom {
  let sends: { atMs: number; requests: number }[] = [];
  let standby = 1;
  /** The first send no look at the stream has judged yet, and the requests sent since. */
  let unjudgedSince: number | undefined;
  let unjudged = 0;
  return {
    sent(requests, atMs) {
      sends.push({ atMs, requests });
      unjudgedSince ??= atMs;
      unjudged += requests;
    },
    room(beats, undelivered, asOfMs, nowMs) {
      if (sends.length > 0 && sends[0]!.atMs < nowMs - REMEMBER_MS) sends = sends.filter((s) => s.atMs >= nowMs - REMEMBER_MS);
      if (unjudgedSince !== undefined && asOfMs > unjudgedSince) {
        const settled = asOfMs >= unjudgedSince + SETTLE_MS;
        if (undelivered === 0) standby = Math.min(maxStandby, 2 * Math.max(standby, unjudged));
        else if (settled) standby = Math.max(1, Math.floor(standby / 2));
        if (undelivered === 0 || settled) {
          unjudgedSince = undefined;
          unjudged = 0;
        }
      }
      if (beats.length === 0) return 0;
      if (undelivered >= beats.length) return 0;
      const beatAt = Math.min(...beats.map((b) => b.atUnixMs));
      const sentSince = sends.reduce((a, s) => a + (s.atMs > beatAt ? s.requests : 0), 0);
      const shown = beats.reduce((a, b) => a + b.freeSlots, 0) - sentSince;
      if (shown > 0) return Math.max(shown, standby);
      // Below full size the pool was lately full: one small batch out at a time, until a look
      // at the stream says whether it was taken.
      if (standby < maxStandby && unjudgedSince !== undefined) return 0;
      return standby;
    },
  };
}
