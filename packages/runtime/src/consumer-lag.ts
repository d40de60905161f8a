import type { JetStreamManager } from '@switchyard/bus';
import { streams } from '@switchyard/contracts';
import { Gauge, type Registry } from '@switchyard/telemetry';

export interface ConsumerLagOptions {
  readonly jsm: JetStreamManager;
  readonly registry: Registry;
  /** The durables this process answers for: each is reported by the service that consumes it. */
  readonly owns: (consumer: string) => boolean;
  /** Streams to look at. Default every stream in `@switchyard/contracts`. */
  readonly streams?: readonly string[];
  /** Default 5 s. */
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
}

export interface ConsumerLag {
  /** Polls once now; what the timer does every `intervalMs`. */
  poll(): Promise<void>;
  stop(): void;
}

/**
 * Reports, every `intervalMs`, how far behind each owned durable is
 * (`switchyard_consumer_pending{stream,consumer}`: not yet delivered + delivered and not acked)
 * and how many of its messages sit on `deadletter.<stream>.<consumer>`
 * (`switchyard_dead_letters{stream,consumer}`; DEADLETTER keeps them 30 days, so a rise is a
 * new dead letter whichever path parked it). A durable that disappeared stops being reported.
 */
export function followConsumerLag(options: ConsumerLagOptions): ConsumerLag {
  const registers = [options.registry];
  const pending = new Gauge({
    name: 'switchyard_consumer_pending',
    help: 'Messages a durable consumer has not finished: num_pending + num_ack_pending',
    labelNames: ['stream', 'consumer'],
    registers,
  });
  const deadLetters = new Gauge({
    name: 'switchyard_dead_letters',
    help: 'Messages parked on deadletter.<stream>.<consumer> and still retained (30 days)',
    labelNames: ['stream', 'consumer'],
    registers,
  });
  const names = options.streams ?? Object.values(streams).map((s) => s.name);

  const poll = async () => {
    const seen: [string, string, number][] = [];
    for (const stream of names) {
      if (stream === streams.DEADLETTER.name) continue;
      try {
        for await (const info of options.jsm.consumers.list(stream)) {
          if (options.owns(info.name)) seen.push([stream, info.name, info.num_pending + info.num_ack_pending]);
        }
      } catch (e) {
        // A stream this deployment has not provisioned (yet) has no consumers to report.
        if (!String(e).includes('stream not found')) throw e;
      }
    }
    const parked = new Map<string, number>();
    const dl = await options.jsm.streams.info(streams.DEADLETTER.name, { subjects_filter: 'deadletter.>' }).catch(() => undefined);
    for (const [subject, count] of Object.entries(dl?.state.subjects ?? {})) parked.set(subject, count);
    // Swapped in at once, so a scrape never sees half a poll.
    pending.reset();
    deadLetters.reset();
    for (const [stream, consumer, n] of seen) {
      pending.set({ stream, consumer }, n);
      deadLetters.set({ stream, consumer }, parked.get(`deadletter.${stream}.${consumer}`) ?? 0);
    }
  };

  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    poll()
      .catch((e: unknown) => options.onError?.(e))
      .finally(() => (running = false));
  }, options.intervalMs ?? 5_000);
  timer.unref();
  return { poll, stop: () => clearInterval(timer) };
}
