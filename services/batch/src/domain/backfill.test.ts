import type { WorkerHeartbeat } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKFILL_RULES, backfillLimit } from './backfill.js';

const beat = (over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  pool: 'p',
  worker: 'w',
  running: 0,
  waiting: 0,
  freeSlots: 32,
  kvUsed: 0,
  stepMs: 10,
  ttftMs: 50,
  draining: false,
  atUnixMs: 1_000,
  ...over,
});
const rules = { ...DEFAULT_BACKFILL_RULES, headroom: 0.25 };

describe('backfillLimit', () => {
  it('fills an idle fleet up to its slots less the headroom', () => {
    expect(backfillLimit([beat(), beat({ worker: 'w2' })], 1_000, 0, rules).limit).toBe(48);
  });

  it('leaves the room interactive work takes, counting its own requests as its own', () => {
    // 20 running, 12 of them this process's batch requests: 8 are someone else's.
    expect(backfillLimit([beat({ running: 20, freeSlots: 12 })], 1_000, 12, rules).limit).toBe(24 - 8);
  });

  it('steps back to the floor as soon as any worker queues sequences', () => {
    expect(backfillLimit([beat({ running: 30, waiting: 3, freeSlots: 0 }), beat({ worker: 'w2' })], 1_000, 5, rules).limit).toBe(1);
  });

  it('ignores draining workers and heartbeats older than staleMs', () => {
    const view = backfillLimit([beat({ draining: true }), beat({ worker: 'old', atUnixMs: 0 })], 10_000, 0, rules);
    expect(view).toMatchObject({ slots: 0, limit: rules.floor });
  });

  it('never exceeds the ceiling', () => {
    const many = Array.from({ length: 100 }, (_, i) => beat({ worker: `w${i}` }));
    expect(backfillLimit(many, 1_000, 0, { ...rules, ceiling: 64 }).limit).toBe(64);
  });
});
