import type { Consumer, ConsumerMessages } from '@nats-io/jetstream';

/**
 * How long a pull consumer may go without a message or a pull of its own before the server is
 * asked whether it still holds a pull for it. Bounds the stall described at
 * {@link watchForDroppedPulls}; an idle consumer asks about once per pull (every `expires`).
 */
const PULL_QUIET_CHECK_MS = 250;
const TICK_MS = 100;

export interface PullWatchdogOptions {
  readonly consumer: Pick<Consumer, 'info'>;
  readonly messages: ConsumerMessages;
  /** The `expires` the messages were opened with: no pull outlives it on the server. */
  readonly expiresMs: number;
  /**
   * True while the reader has stopped taking messages (every handler slot busy). A pull the
   * client owes may then be queued behind the message it holds, so the server holding none
   * is expected, not a stall.
   */
  readonly busy?: () => boolean;
}

export interface PullWatchdog {
  stop(): void;
}

/** The client's own recovery step, the one its missed-heartbeat monitor runs. */
interface Repullable {
  resetPending(): Promise<boolean>;
}

/**
 * nats-server 2.9 drops a waiting pull without a word (no 408) when a message reaches the
 * consumer after the pull's expiry but before the server's own expiry timer has run. The
 * client still counts the pull as open, so it pulls no more, and the consumer sits idle
 * until two idle heartbeats are missed: 2 s with `PULL_IDLE_HEARTBEAT_MS`, 5 s with the
 * client's default for a 5 s pull. That was the 2 s p99 of `pnpm bench --quick` one run in
 * four, and the abuse test's flake.
 *
 * The watchdog asks the server (consumer info) once the consumer has been quiet for
 * `PULL_QUIET_CHECK_MS` and its newest pull may have ended. It pulls again only on the
 * server's word that no pull at all waits on the consumer (`num_waiting` 0) and when nothing
 * arrived and no pull went out while it asked: a pull still open is never doubled, so the
 * reader's prefetch stays what it asked for (an earlier client-side attempt that guessed
 * which pulls the server still held over-pulled under a flood and cost the fairness test's
 * steady tenant its attainment). Where peers share the durable and one of them holds a pull,
 * messages still flow to that peer; this reader then recovers by heartbeats as before.
 */
export function watchForDroppedPulls(options: PullWatchdogOptions): PullWatchdog {
  const { consumer, messages, expiresMs } = options;
  if (typeof (messages as Partial<Repullable>).resetPending !== 'function') {
    throw new Error('@nats-io/jetstream no longer has resetPending(): pull-watchdog.ts needs another way to pull again');
  }
  const repullable = messages as ConsumerMessages & Repullable;
  let stopped = false;
  let asking = false;
  let pullsSent = 0;
  let lastPullAtMs = Date.now();
  let received = messages.getReceived();
  let activityAtMs = Date.now();
  /** Until the newest pull's expiry, once the server said it holds one. */
  let heldUntilMs = 0;

  void (async () => {
    for await (const notice of messages.status()) {
      if (notice.type !== 'next') continue;
      pullsSent++;
      lastPullAtMs = activityAtMs = Date.now();
      heldUntilMs = 0;
    }
  })().catch(() => {});

  const ask = async () => {
    const before = { pullsSent, received: messages.getReceived() };
    const info = await consumer.info();
    if (stopped || pullsSent !== before.pullsSent || messages.getReceived() !== before.received) return;
    if (info.num_waiting > 0) {
      // A peer's pull may be the one waiting after ours ended: ask again a quiet spell later.
      heldUntilMs = Math.max(lastPullAtMs + expiresMs, Date.now()) + PULL_QUIET_CHECK_MS;
      return;
    }
    if (options.busy?.()) return;
    await repullable.resetPending();
  };

  const timer = setInterval(() => {
    const now = Date.now();
    const nowReceived = messages.getReceived();
    if (nowReceived !== received) {
      received = nowReceived;
      activityAtMs = now;
      heldUntilMs = 0;
    }
    if (asking || stopped || now - activityAtMs < PULL_QUIET_CHECK_MS || now < heldUntilMs) return;
    if (options.busy?.()) return;
    asking = true;
    ask()
      // A question that failed (a reconnect, a leader election) is asked again after another quiet spell.
      .catch(() => (activityAtMs = Date.now()))
      .finally(() => (asking = false));
  }, TICK_MS);
  timer.unref();

  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
