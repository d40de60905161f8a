import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitFor } from '@switchyard/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { collectLiveHeap, LIVE_HEAP_METRIC } from './live-heap.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

let stop = () => {};
afterEach(() => stop());

const liveBytes = async (registry: Registry) => (await registry.getSingleMetric(LIVE_HEAP_METRIC)!.get()).values[0]!.value;

describe('the live heap gauge', () => {
  it('follows what the process keeps across full collections, not the garbage it made', async () => {
    const registry = new Registry();
    stop = collectLiveHeap(registry);
    gc();
    const before = await waitFor('a first full collection observed', async () => ((await liveBytes(registry)) > 0 ? liveBytes(registry) : undefined));

    // A million small objects kept alive (about 60 MB of heap: each one and its boxed double), and as many thrown away.
    const objects = (n: number) => Array.from({ length: n }, (_, i) => ({ i, half: i / 2 }));
    let kept: Array<{ i: number }> | undefined = objects(1_000_000);
    objects(1_000_000);
    gc();
    const withKept = await waitFor('the kept data counted', async () => {
      const v = await liveBytes(registry);
      return v > before + 40 * MB ? v : undefined;
    });
    // The garbage made beside it is not.
    expect(withKept).toBeLessThan(before + 90 * MB);

    expect(kept.length).toBe(1_000_000);
    kept = undefined;
    gc();
    await waitFor('the released data gone', async () => ((await liveBytes(registry)) < before + 8 * MB ? true : undefined));
  });
});
