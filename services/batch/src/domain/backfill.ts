import type { WorkerHeartbeat } from '@switchyard/contracts';

export interface BackfillRules {
  /** Share of the fleet's slots kept free for realtime and internal work. Default 0.25. */
  readonly headroom: number;
  /** Batch requests that may always run, so a batch makes progress on a busy fleet. Default 1. */
  readonly floor: number;
  /** Most batch requests this process runs at once. Default 256. */
  readonly ceiling: number;
  /** A heartbeat older than this is a worker gone. Default 5 s. */
  readonly staleMs: number;
}

export const DEFAULT_BACKFILL_RULES: BackfillRules = { headroom: 0.25, floor: 1, ceiling: 256, staleMs: 5_000 };

export interface BackfillView {
  /** Batch requests that may be in flight now. */
  readonly limit: number;
  readonly slots: number;
  readonly busy: number;
  /** Sequences queued on some worker: the fleet is full and batch work steps back. */
  readonly queued: number;
}

/**
 * How many batch requests may run now: the fleet's free slots beyond the headroom kept for
 * interactive tiers, counted from the workers' own heartbeats. Batch work fills idle room
 * and is the first to yield: once any worker queues sequences (waiting > 0), only the floor
 * runs, so a realtime burst never waits behind a batch. `batchInFlight` are this process's
 * own requests, already counted in the workers' `running`.
 */
export function backfillLimit(heartbeats: Iterable<WorkerHeartbeat>, nowMs: number, batchInFlight: number, rules: BackfillRules): BackfillView {
  let slots = 0;
  let busy = 0;
  let queued = 0;
  for (const h of heartbeats) {
    if (h.draining || nowMs - h.atUnixMs > rules.staleMs) continue;
    slots += h.running + h.waiting + h.freeSlots;
    busy += h.running + h.waiting;
    queued += h.waiting;
  }
  const others = Math.max(0, busy - batchInFlight);
  const room = queued > 0 ? 0 : Math.floor(slots * (1 - rules.headroom)) - others;
  return { limit: Math.min(rules.ceiling, Math.max(rules.floor, room)), slots, busy, queued };
}
