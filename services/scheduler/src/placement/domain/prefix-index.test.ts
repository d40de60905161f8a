import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPrefixIndex } from './prefix-index.js';

const chain = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);
const byWorker = (hits: ReturnType<ReturnType<typeof createPrefixIndex>['hits']>) =>
  Object.fromEntries(hits.map((h) => [`${h.pool}/${h.worker}`, h.blocks]).sort());

describe('prefix index', () => {
  it('names each worker holding the first block with the run of leading blocks it holds', () => {
    const index = createPrefixIndex();
    index.stored('p1', 'w1', chain(10));
    index.stored('p1', 'w2', chain(4));
    index.stored('p2', 'w1', [...chain(2), 99]);
    expect(byWorker(index.hits(chain(12)))).toEqual({ 'p1/w1': 10, 'p1/w2': 4, 'p2/w1': 2 });
    // A later block held without the one before it does not count: hashes are chained.
    index.evicted('p1', 'w1', [5]);
    expect(byWorker(index.hits(chain(12)))).toEqual({ 'p1/w1': 4, 'p1/w2': 4, 'p2/w1': 2 });
    expect(index.hits([1000, 1, 2])).toEqual([]);
    expect(index.hits([])).toEqual([]);
  });

  it("forgets a dropped worker's blocks and replaces a worker's blocks with its snapshot", () => {
    const index = createPrefixIndex();
    index.stored('p', 'dead', chain(8));
    index.stored('p', 'live', chain(3));
    index.dropWorker('p', 'dead');
    expect(byWorker(index.hits(chain(8)))).toEqual({ 'p/live': 3 });
    index.snapshot('p', 'live', chain(6, 100));
    expect(index.hits(chain(8))).toEqual([]);
    expect(byWorker(index.hits(chain(6, 100)))).toEqual({ 'p/live': 6 });
    expect(index.size()).toBe(6);
  });

  it('never holds more than maxBlocks, dropping the blocks stored longest ago', () => {
    const index = createPrefixIndex({ maxBlocks: 1_000 });
    index.stored('p', 'w', chain(600));
    index.stored('p', 'w', chain(600, 10_000));
    expect(index.size()).toBeLessThanOrEqual(1_000);
    // The newest chain is whole; the oldest lost its head.
    expect(byWorker(index.hits(chain(600, 10_000)))).toEqual({ 'p/w': 600 });
    expect(index.hits(chain(600))).toEqual([]);
  });

  it('agrees with a plain model of each worker\u2019s blocks under any sequence of events', () => {
    const event = fc.record({
      kind: fc.constantFrom('stored', 'evicted', 'snapshot', 'drop'),
      worker: fc.constantFrom('a', 'b', 'c'),
      hashes: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 8 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 10 }), (events, prompt) => {
        const index = createPrefixIndex();
        const model = new Map<string, Set<number>>();
        for (const e of events) {
          const held = model.get(e.worker) ?? new Set<number>();
          model.set(e.worker, held);
          if (e.kind === 'stored') (index.stored('p', e.worker, e.hashes), e.hashes.forEach((h) => held.add(h)));
          if (e.kind === 'evicted') (index.evicted('p', e.worker, e.hashes), e.hashes.forEach((h) => held.delete(h)));
          if (e.kind === 'snapshot') (index.snapshot('p', e.worker, e.hashes), model.set(e.worker, new Set(e.hashes)));
          if (e.kind === 'drop') (index.dropWorker('p', e.worker), model.set(e.worker, new Set()));
        }
        const expected: Record<string, number> = {};
        for (const [worker, held] of model) {
          let run = 0;
          while (run < prompt.length && held.has(prompt[run]!)) run++;
          if (run > 0) expected[`p/${worker}`] = run;
        }
        expect(byWorker(index.hits(prompt))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
