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
});
