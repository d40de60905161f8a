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
const req = (id: string, worker: string, hitTokens = 0, promptTokens = 1_000) => ({ id, worker, hitTokens, promptTokens });

describe('worker affinity', () => {
  it('a worker takes batches of its own while alive, not draining, with a free slot and nothing left unpulled', () => {
    expect(takesOwnBatches(beat(), 0)).toBe(true);
    expect(takesOwnBatches(undefined, 0)).toBe(false);
    expect(takesOwnBatches(beat({ draining: true }), 0)).toBe(false);
    expect(takesOwnBatches(beat({ freeSlots: 0 }), 0)).toBe(false);
    expect(takesOwnBatches(beat(), 1)).toBe(false);
  });

  it('hands a request to its open worker only while the prefill it saves there outweighs the queue it waits behind', () => {
    // w1 has 3,000 prompt tokens queued, w2 none; closed workers are not in the map.
    const backlog = new Map([
      ['w1', 3_000],
      ['w2', 0],
    ]);
    const groups = splitByWorker([req('big-hit', 'w1', 3_000), req('small-hit', 'w1', 500), req('closed', 'w3', 900), req('any', '')], backlog);
    expect(ids(groups)).toEqual({ w1: ['big-hit'], '': ['small-hit', 'closed', 'any'] });
    // What was handed counts: big-hit's uncached 0 tokens, nothing added; a further one weighs the same queue.
    expect(backlog.get('w1')).toBe(3_000);
  });

  it('spreads a hot prefix once its holder has taken enough of it', () => {
    const backlog = new Map([
      ['w1', 0],
      ['w2', 0],
    ]);
    // Each request saves 600 of its 1,000 tokens on w1 and adds 400 there.
    const hot = Array.from({ length: 4 }, (_, i) => req(`h${i}`, 'w1', 600));
    expect(ids(splitByWorker(hot, backlog))).toEqual({ w1: ['h0', 'h1'], '': ['h2', 'h3'] });
  });
});
