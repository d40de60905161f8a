import type { PulledMessage } from '@switchyard/bus';

export interface BatchTrackerOptions {
  /** The consumer's ack wait; deadlines are extended three times within it. */
  readonly ackWaitMs: number;
  /** Redelivery delay of a batch one of whose outcomes could not be recorded. Default 1,000 ms. */
  readonly retryDelayMs?: number;
}

/**
 * The pulled batches a worker holds. A batch is acked only once every request in it reached a
 * terminal outcome that was recorded on LIFECYCLE; if one could not be recorded the batch is
 * handed back, and its redelivery re-runs it (usage and terminal events are de-duplicated by id).
 */
export interface BatchTracker {
  /** Tracks a batch of requests under `keys`; acks at once when `keys` is empty. */
  open(message: PulledMessage, keys: readonly string[]): void;
  /** Request `key` is finished: `ok` when its terminal event was recorded. */
  settle(key: string, ok: boolean): void;
  /** The worker made progress; only then do held batches extend their ack deadline. */
  progressed(): void;
  /** Hands every held batch back for redelivery now (shutdown past its grace). */
  handBackAll(): void;
  /** Forgets every held batch without a word to the server (a crash): redelivery comes after the ack wait. */
  dropAll(): void;
  /** Stops the deadline ticker; call after `handBackAll` or `dropAll`. */
  dispose(): void;
  readonly size: number;
}

interface Held {
  readonly message: PulledMessage;
  readonly remaining: Set<string>;
  ok: boolean;
}

export function createBatchTracker(options: BatchTrackerOptions): BatchTracker {
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const byKey = new Map<string, Held>();
  const held = new Set<Held>();
  let progress = 0;
  let seen = 0;
  // A worker that stops stepping (a hang) stops extending, so its batches go to another worker.
  const ticker = setInterval(
    () => {
      if (progress === seen) return;
      seen = progress;
      for (const h of held) h.message.working();
    },
    Math.max(100, options.ackWaitMs / 3),
  );
  ticker.unref();

  const close = (h: Held) => {
    held.delete(h);
    if (h.ok) h.message.ack();
    else h.message.nak(retryDelayMs);
  };

  return {
    open(message, keys) {
      const h: Held = { message, remaining: new Set(keys), ok: true };
      if (h.remaining.size === 0) return close(h);
      held.add(h);
      for (const k of keys) byKey.set(k, h);
    },
    settle(key, ok) {
      const h = byKey.get(key);
      if (!h) return;
      byKey.delete(key);
      h.ok &&= ok;
      h.remaining.delete(key);
      if (h.remaining.size === 0) close(h);
    },
    progressed: () => void progress++,
    handBackAll() {
      for (const h of held) h.message.nak(0);
      held.clear();
      byKey.clear();
    },
    dropAll() {
      held.clear();
      byKey.clear();
    },
    dispose: () => clearInterval(ticker),
    get size() {
      return held.size;
    },
  };
}
