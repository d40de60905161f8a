import { describe, expect, it } from 'vitest';
import { createMicroBatch } from './micro-batch.js';

describe('createMicroBatch', () => {
  it('groups concurrent submissions into batches and hands each submitter its own result', async () => {
    const batches: number[][] = [];
    const batch = createMicroBatch<number, number>({
      maxBatch: 10,
      maxParallel: 1,
      maxWaitMs: 50,
      flush: async (items) => {
        batches.push([...items]);
        await new Promise((r) => setTimeout(r, 5));
        return items.map((i) => i * 2);
      },
    });
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => batch.submit(i)));
    expect(results).toEqual(Array.from({ length: 25 }, (_, i) => i * 2));
    expect(batches[0]).toEqual([0]); // nothing was flushing: no waiting
    expect(batches.slice(1).map((b) => b.length)).toEqual([10, 10, 4]);
    expect(batch.size).toBe(0);
  });

  it('with a linger, items submitted one by one while nothing flushes still leave together', async () => {
    const batches: number[][] = [];
    const batch = createMicroBatch<number, number>({ maxParallel: 1, lingerMs: 30, flush: async (items) => (batches.push([...items]), [...items]) });
    const first = batch.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const second = batch.submit(2);
    await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('rejects every item of a failed batch and keeps going', async () => {
    let fail = true;
    const batch = createMicroBatch<number, number>({
      maxParallel: 1,
      flush: async (items) => {
        if (fail) {
          fail = false;
          throw new Error('database down');
        }
        return [...items];
      },
    });
    await expect(batch.submit(1)).rejects.toThrow('database down');
    await expect(batch.submit(2)).resolves.toBe(2);
  });

  it('drain flushes a waiting partial batch at once', async () => {
    const batch = createMicroBatch<number, number>({
      maxParallel: 1,
      maxWaitMs: 60_000,
      flush: async (items) => (await new Promise((r) => setTimeout(r, 5)), [...items]),
    });
    const first = batch.submit(1);
    const second = batch.submit(2);
    await batch.drain();
    await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
  });

  it("splits a failed batch to fail only the item the flush refuses, when told the failure may be one item's", async () => {
    const refused = Object.assign(new Error('row 13 refused'), { code: 'P0001' });
    const flushed: number[] = [];
    const make = (splitOnFailure?: (e: unknown) => boolean) =>
      createMicroBatch<number, number>({
        maxParallel: 1,
        maxWaitMs: 60_000,
        splitOnFailure,
        flush: async (items) => {
          flushed.push(items.length);
          if (items.includes(13)) throw refused;
          return items.map((n) => n * 2);
        },
      });
    const split = make((e) => (e as { code?: string }).code === 'P0001');
    const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => split.submit(i)));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[13]).toEqual({ status: 'rejected', reason: refused });
    expect(results[12]).toEqual({ status: 'fulfilled', value: 24 });
    // A bisection, not one flush per item: the first item leaves alone (nothing was flushing),
    // then 15, 8 + 7, 4 + 3, 2 + 1, 1 + 1.
    expect(flushed).toEqual([1, 15, 8, 7, 4, 3, 2, 1, 1, 1]);

    // Without it, every item that shared the refused item's batch fails with it.
    const whole = make();
    const all = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => whole.submit(i)));
    expect(all.filter((r) => r.status === 'rejected')).toHaveLength(15);
  });
});
