import type { KV } from '@switchyard/bus';
import { parseHeartbeat, type WorkerHeartbeat } from '@switchyard/contracts';

export interface PoolWatch {
  /** Latest heartbeat of every worker seen. */
  heartbeats(): Iterable<WorkerHeartbeat>;
  stop(): Promise<void>;
}

/** Mirrors the `pools` KV bucket in memory, live, so placement never waits on I/O. */
export async function watchPools(kv: KV): Promise<PoolWatch> {
  const latest = new Map<string, WorkerHeartbeat>();
  const watch = await kv.watch({ key: '>' });
  const done = (async () => {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') {
        latest.delete(entry.key);
        continue;
      }
      const beat = parseHeartbeat(entry.value);
      if (beat) latest.set(entry.key, beat);
    }
  })();
  return {
    heartbeats: () => latest.values(),
    async stop() {
      watch.stop();
      await done;
    },
  };
}
