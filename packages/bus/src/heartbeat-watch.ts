import type { KV } from '@nats-io/kv';
import { parseHeartbeat, type WorkerHeartbeat } from '@switchyard/contracts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface HeartbeatWatch {
  /** Latest heartbeat of every worker seen. */
  heartbeats(): Iterable<WorkerHeartbeat>;
  stop(): Promise<void>;
}

export interface WatchHeartbeatsOptions {
  /**
   * A watch that hears nothing for this long is opened again. Workers beat about once a
   * second, so silence means the watch's consumer is gone: on a cluster it lives on one node,
   * and a node killed outright tells nobody. Default 3,000 ms.
   */
  readonly silenceMs?: number;
}

/**
 * Mirrors the `pools` KV bucket (worker heartbeats) in memory, live, so decisions never wait
 * on I/O. Resolves once the first watch is open.
 */
export async function watchHeartbeats(kv: KV, onChange: () => void = () => {}, options: WatchHeartbeatsOptions = {}): Promise<HeartbeatWatch> {
  const silenceMs = options.silenceMs ?? 3_000;
  const latest = new Map<string, WorkerHeartbeat>();
  let stopped = false;
  let heardAt = Date.now();
  let watch = await kv.watch({ key: '>' });

  const follow = async (w: typeof watch) => {
    for await (const entry of w) {
      heardAt = Date.now();
      if (entry.operation !== 'PUT') {
        latest.delete(entry.key);
        continue;
      }
      const beat = parseHeartbeat(entry.value);
      if (beat) latest.set(entry.key, beat);
      onChange();
    }
  };
  const done = (async () => {
    while (!stopped) {
      await follow(watch);
      while (!stopped) {
        try {
          heardAt = Date.now();
          watch = await kv.watch({ key: '>' });
          break;
        } catch {
          // The bucket's stream may be electing a leader: try again shortly.
          await sleep(250);
        }
      }
    }
  })();
  const guard = setInterval(
    () => {
      if (Date.now() - heardAt > silenceMs) {
        heardAt = Date.now();
        watch.stop();
      }
    },
    Math.max(100, silenceMs / 3),
  );
  guard.unref();

  return {
    heartbeats: () => latest.values(),
    async stop() {
      stopped = true;
      clearInterval(guard);
      watch.stop();
      await done;
    },
  };
}
