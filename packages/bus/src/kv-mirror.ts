import type { KV } from '@nats-io/kv';

export interface BucketMirror {
  stop(): Promise<void>;
}

/**
 * Follows every key of a KV bucket: `apply` gets each key's current value (undefined once
 * deleted) and when that value was written, first the stored ones, then every change as it happens. Resolves once the stored
 * values are applied, so a process serves nothing from an empty mirror. `onError` hears of a
 * watch that failed; the mirror then keeps what it had.
 */
export async function mirrorBucket(
  kv: KV,
  apply: (key: string, value: Uint8Array | undefined, writtenUnixMs: number) => void,
  onError: (e: unknown) => void = () => {},
): Promise<BucketMirror> {
  const watch = await kv.watch({ key: '>' });
  let ready!: () => void;
  const initial = new Promise<void>((resolve) => (ready = resolve));
  const done = (async () => {
    for await (const entry of watch) {
      apply(entry.key, entry.operation === 'PUT' ? entry.value : undefined, entry.created.getTime());
      if (entry.delta === 0) ready();
    }
  })()
    .catch(onError)
    .finally(ready);
  // An empty bucket sends nothing, so there "caught up" cannot be waited for.
  if ((await kv.status()).values === 0) ready();
  await initial;
  return {
    async stop() {
      watch.stop();
      await done;
    },
  };
}
