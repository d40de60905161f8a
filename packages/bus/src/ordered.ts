import { DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { PULL_IDLE_HEARTBEAT_MS } from './consume.js';
import { watchForDroppedPulls } from './pull-watchdog.js';

/** The client's `expires` when none is given. */
const CLIENT_DEFAULT_EXPIRES_MS = 30_000;

export interface FollowOrderedOptions {
  readonly stream: string;
  readonly filterSubjects?: string | string[];
  /** Where the first consumer starts: `New` (default), `All` or `LastPerSubject`. */
  readonly deliverPolicy?: DeliverPolicy;
  /**
   * A consumer that has delivered nothing for this long is asked whether it is behind (see
   * followOrdered); when it is, or cannot answer, it is replaced. Default 6,000 ms.
   */
  readonly silenceMs?: number;
  /**
   * The connection under `js`: silence then counts from its last reconnect, so the client
   * gets its own chance to resume (all it needs after a single server's restart) before the
   * consumer is replaced.
   */
  readonly nc?: NatsConnection;
  /**
   * How long each pull waits on the server. Default the client's 30 s, with heartbeats every
   * 2 s. `PULL_EXPIRES_MS` (5 s) brought the terminal watch back sooner after a cluster node's
   * loss in the chaos test, but left admission's budget states behind in the budgets test.
   */
  readonly expiresMs?: number;
}

export interface OrderedFollower {
  /** Messages pending for the first consumer when it was created: what "caught up" means. */
  readonly pendingAtStart: number;
  stop(): Promise<void>;
}

/**
 * An ordered consumer that survives the loss of the node it lives on. An ordered consumer
 * is an R1 ephemeral on one node of a cluster; killed outright, that node takes it along, and
 * the client (reconnected elsewhere) stops watching heartbeats and only asks the dead
 * consumer for its info, so it never recovers. Here a consumer that has delivered nothing for
 * `silenceMs` is checked: when it cannot say how it stands, when it says messages are pending,
 * or (unfiltered) when the stream's leader holds messages past the last one handled, it is
 * dropped and a new one starts after the last message handled: nothing skipped, nothing twice.
 *
 * Only messages count as signs of life. The client's status notices do not: once two
 * heartbeats are missed it says so at every heartbeat interval for as long as the consumer
 * stays dead, and while those notices counted, a consumer lost with its node during the
 * cluster chaos test was never replaced (admission's terminal watch went deaf and every call
 * ran into its deadline, one run in eight).
 */
export async function followOrdered(js: JetStreamClient, options: FollowOrderedOptions, onMessage: (msg: JsMsg) => void): Promise<OrderedFollower> {
  let lastSeq = 0;
  let stopped = false;
  let current: { consumer: Consumer; messages: ConsumerMessages } | undefined;
  // Only a quiet consumer's check needs it: not made at start, and without the API probe.
  let jsm: Promise<JetStreamManager> | undefined;
  const open = async () => {
    const consumer = await js.consumers.get(options.stream, {
      ...(options.filterSubjects ? { filter_subjects: options.filterSubjects } : {}),
      ...(lastSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastSeq + 1 }
        : { deliver_policy: options.deliverPolicy ?? DeliverPolicy.New }),
    });
    const info = await consumer.info();
    // Starting from "new": a replacement must still begin right after what the first one skipped.
    if (lastSeq === 0 && (options.deliverPolicy ?? DeliverPolicy.New) === DeliverPolicy.New) lastSeq = info.delivered.stream_seq;
    return {
      consumer,
      messages: await consumer.consume(options.expiresMs ? { expires: options.expiresMs } : { idle_heartbeat: PULL_IDLE_HEARTBEAT_MS }),
      pending: info.num_pending,
    };
  };
  /** Whether a consumer that has been quiet is missing messages (or cannot tell: then it is lost). */
  const behind = async (consumer: Consumer): Promise<boolean> => {
    try {
      if ((await consumer.info()).num_pending > 0) return true;
      // A consumer on a replica that stopped following its stream counts nothing pending.
      if (options.filterSubjects) return false;
      const manager = await (jsm ??= js.jetstreamManager(false));
      return (await manager.streams.info(options.stream)).state.last_seq > lastSeq;
    } catch {
      return true;
    }
  };
  const first = await open();
  current = first;

  const silenceMs = options.silenceMs ?? 6_000;
  let heardAt = Date.now();
  if (options.nc) {
    const nc = options.nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (stopped) break;
        if (s.type === 'reconnect') heardAt = Date.now();
      }
    })().catch(() => {});
  }
  const follow = async ({ consumer, messages }: { consumer: Consumer; messages: ConsumerMessages }) => {
    heardAt = Date.now();
    const watchdog = watchForDroppedPulls({ consumer, messages, expiresMs: options.expiresMs ?? CLIENT_DEFAULT_EXPIRES_MS });
    let checking = false;
    const guard = setInterval(() => {
      if (checking || Date.now() - heardAt <= silenceMs) return;
      checking = true;
      void behind(consumer).then((lost) => {
        checking = false;
        if (lost) void messages.close();
        else heardAt = Date.now();
      });
    }, 1_000);
    try {
      for await (const msg of messages) {
        heardAt = Date.now();
        lastSeq = msg.seq;
        onMessage(msg);
      }
    } finally {
      clearInterval(guard);
      watchdog.stop();
    }
  };
  const done = (async () => {
    let opened: { consumer: Consumer; messages: ConsumerMessages } = first;
    for (;;) {
      await follow(opened).catch(() => {});
      if (stopped) return;
      for (;;) {
        try {
          opened = current = await open();
          break;
        } catch {
          if (stopped) return;
          // The stream may be electing a leader, or the new consumer landed on a node that is gone.
          await sleep(250);
        }
      }
      if (stopped) return void (await opened.messages.close());
    }
  })();
  return {
    pendingAtStart: first.pending,
    async stop() {
      stopped = true;
      await current?.messages.close();
      await done;
      // The ephemeral is left to its inactive threshold (5 min) rather than deleted: deleting
      // consumers is a right the analyst's NATS user must not have (it could delete any).
    },
  };
}
