import { connectBus, jetstream, openBucket, provisionStreams, publishEvent, type JetStreamClient, type KV, type NatsConnection } from '@switchyard/bus';
import {
  Outcome,
  buckets,
  decodeEvent,
  makeEvent,
  streams,
  subjects,
  type Decision,
  type Event,
  type RequestDispatched,
  type RequestSpec,
  type RequestTerminated,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { keepWorkerIdle, startNats, testPool, waitFor, type TestServer, testRequestSpec } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScheduler, type Scheduler } from './service.js';

/**
 * The scheduler as its neighbours see it: admitted requests go in on REQUESTS, and each one
 * comes out either dispatched to a pool (DISPATCH, with a `place` decision) or ended as
 * rejected (LIFECYCLE) with a reason the caller can act on.
 */

const pool = testPool({ id: 'eu-h100' });

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let poolsKv: KV;
let scheduler: Scheduler;
let beating: { stop(): void } | undefined;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'scheduler-service-test' });
  js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  poolsKv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  // A healthy worker on `pool`, as the worker simulator announces it every second.
  beating = await keepWorkerIdle(poolsKv, pool);
  scheduler = createScheduler({ js, nc, poolsKv, pools: [pool], logger: createLogger({ service: 'scheduler', level: 'silent' }) });
  await scheduler.start();
});
afterAll(async () => {
  beating?.stop();
  await scheduler?.stop();
  await nc?.close();
  await nats?.dispose();
});

const spec = (requestId: string, model: string): RequestSpec => testRequestSpec(requestId, { model });

const admit = (request: RequestSpec) =>
  publishEvent(
    js,
    subjects.requestAdmitted('realtime', request.tenant),
    makeEvent(
      { id: `admitted-${request.requestId}`, tenant: request.tenant, requestId: request.requestId, nowMs: Date.now() },
      { $case: 'requestAdmitted', requestAdmitted: { request } },
    ),
  );

/** Events stored on `stream` under `subject`, read message by message (no consumer: DISPATCH is a work queue). */
async function stored(stream: string, subject: string): Promise<Event[]> {
  const jsm = await js.jetstreamManager();
  const { first_seq, last_seq } = (await jsm.streams.info(stream)).state;
  const events: Event[] = [];
  for (let seq = first_seq; seq > 0 && seq <= last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m?.subject === subject) events.push(decodeEvent(m.data));
  }
  return events;
}

/** Scheduler decisions about `requestId`, as decision telemetry shows them. */
function decisionsOf(requestId: string) {
  const seen: Decision[] = [];
  const sub = nc.subscribe(subjects.decision('scheduler', 'acme'), {
    callback: (_e, msg) => {
      const event = decodeEvent(msg.data);
      if (event.envelope?.requestId === requestId && event.payload?.$case === 'decision') seen.push(event.payload.decision);
    },
  });
  return { seen, stop: () => sub.unsubscribe() };
}

describe('scheduler service', () => {
  it('dispatches an admitted request for a model a healthy pool serves to that pool, and says why', async () => {
    const request = spec('req-placed', 'llama-3.1-8b');
    const decisions = decisionsOf(request.requestId);
    await admit(request);

    const dispatched = await waitFor('the request on DISPATCH for the pool', async () => {
      const found = (await stored(streams.DISPATCH.name, subjects.dispatch(pool.id)))
        .flatMap((e) => (e.payload?.$case === 'requestDispatched' ? [e.payload.requestDispatched] : []))
        .find((d: RequestDispatched) => d.request?.requestId === request.requestId);
      return found;
    });
    expect(dispatched.pool).toBe(pool.id);
    expect(dispatched.request).toMatchObject({ tenant: 'acme', model: 'llama-3.1-8b', promptTokens: 16, maxTokens: 8 });

    const decision = await waitFor('the place decision', () => decisions.seen.find((d) => d.action === 'place'));
    decisions.stop();
    expect(decision.chosen).toBe(pool.id);
    expect(decision.reason).not.toBe('');
    expect(
      await stored(streams.LIFECYCLE.name, subjects.requestTerminated('rejected', 'acme')).then((es) =>
        es.filter((e) => e.envelope?.requestId === request.requestId),
      ),
    ).toEqual([]);
  });

  it('ends a request for a model no pool serves as rejected, with a reason naming the model', async () => {
    const request = spec('req-unknown', 'no-such-model-7b');
    await admit(request);

    const terminal = await waitFor('the rejected terminal on LIFECYCLE', async () =>
      (await stored(streams.LIFECYCLE.name, subjects.requestTerminated('rejected', 'acme')))
        .flatMap((e) => (e.payload?.$case === 'requestTerminated' ? [e.payload.requestTerminated] : []))
        .find((t: RequestTerminated) => t.requestId === request.requestId),
    );
    expect(terminal.outcome).toBe(Outcome.OUTCOME_REJECTED);
    expect(terminal.reason).toContain('no-such-model-7b');
    // It names its tier and feature, so metering counts it without having seen the admission; never placed, it ran on no model.
    expect(terminal).toMatchObject({ tier: request.tier, feature: request.feature, model: '' });
    // Retrying the same request cannot help, and nothing reached a pool.
    expect(terminal.retryAfterMs).toBe(0);
    const dispatched = await stored(streams.DISPATCH.name, subjects.dispatch(pool.id));
    expect(dispatched.filter((e) => e.envelope?.requestId === request.requestId)).toEqual([]);
  });
});
