import type { KV } from '@nats-io/kv';
import { parseHeartbeat, type WorkerHeartbeat } from '@switchyard/contracts';

export interface HeartbeatWatch {
  /** Latest heartbeat of every worker seen. */
  heartbeats(): Iterable<WorkerHeartbeat>;
  stop(): Promise<void>;
}

/** Mirrors the `pools` KV bucket (worker heartbeats) in memory, live, so decisions never wait on I/O. */
export async function watchHeartbeats(kv: KV, onChange: () => void = () => {}): Promise<HeartbeatWatch> {
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
      onChange();
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
