import type { WorkerHeartbeat } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { splitByWorker, takesOwnBatches } from './worker-affinity.js';

const beat = (o: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  pool: 'p',
  worker: 'w1',
  running: 0,
  waiting: 0,
  freeSlots: 4,
  kvUsed: 0,
  stepMs: 0,
  ttftMs: 0,
  draining: false,
  atUnixMs: 1,
  ...o,
});
const ids = (groups: Map<string, Array<{ id: string }>>) => Object.fromEntries([...groups].map(([w, g]) => [w, g.map((q) => q.id)]));

describe('worker affinity', () => {
  it('a worker takes batches of its own while alive, not draining, with a free slot and nothing left unpulled', () => {
    expect(takesOwnBatches(beat(), 0)).toBe(true);
    expect(takesOwnBatches(undefined, 0)).toBe(false);
    expect(takesOwnBatches(beat({ draining: true }), 0)).toBe(false);
    expect(takesOwnBatches(beat({ freeSlots: 0 }), 0)).toBe(false);
    expect(takesOwnBatches(beat(), 1)).toBe(false);
  });

  it('splits a batch between the open workers named for its requests and the pool', () => {
    const batch = [
      { id: 'a', worker: 'w1' },
      { id: 'b', worker: 'w2' },
      { id: 'c', worker: '' },
      { id: 'd', worker: 'w1' },
    ];
    expect(ids(splitByWorker(batch, new Set(['w1'])))).toEqual({ w1: ['a', 'd'], '': ['b', 'c'] });
    expect(ids(splitByWorker(batch, new Set()))).toEqual({ '': ['a', 'b', 'c', 'd'] });
  });
});
