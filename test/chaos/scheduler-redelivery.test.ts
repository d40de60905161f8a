import { Tier, buckets, makeEvent, streams, subjects, type Event, type RequestSpec } from '@switchyard/contracts';
import { connectBus, jetstream, openBucket, publishEvent, type NatsConnection } from '@switchyard/bus';
import { createScheduler, type Scheduler } from '@switchyard/scheduler';
import { createSwitchyardClient } from '@switchyard/sdk';
import { createLogger } from '@switchyard/telemetry';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream, terminalsByRequest } from '../support/read-stream.js';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';

/**
 * A REQUESTS message comes back when its ack is lost (a NATS restart, a killed scheduler).
 * The redelivery must follow the first decision, never judge the request again: its age
 * would count against the realtime objective, shed it, and tell the caller "rejected" for a
 * request that runs and is billed. Each test stops the system's scheduler, takes the message
 * once itself and hands it back (nak), as a scheduler that died before its ack would, and
 * lets a new scheduler replica receive it as delivery 2.
 */

let system: RunningSystem;
const extra: Array<{ scheduler: Scheduler; nc: NatsConnection }> = [];

beforeAll(async () => {
  // Real-time GPU workers: a 400-token answer takes seconds, long enough to redeliver mid-run.
  system = await startSystem({ workerSpeed: 1 });
}, 60_000);
afterAll(async () => {
  for (const r of extra) {
    await r.scheduler.stop();
    await r.nc.close();
  }
  await system?.stop();
});

async function startReplica(): Promise<void> {
  const nc = await connectBus({ url: system.servers.nats.url, name: `scheduler-replica-${extra.length}` });
  const scheduler = createScheduler({
    js: jetstream(nc),
    nc,
    poolsKv: await openBucket(nc, buckets.pools, { ttl: 10_000 }),
    pools: TEST_POOLS,
    logger: createLogger({ service: 'scheduler', level: 'silent' }),
  });
  await scheduler.start();
  extra.push({ scheduler, nc });
}

/** Publishes `spec` on REQUESTS, takes it once from the scheduler's durable and hands it back. */
async function deliverTwice(spec: RequestSpec, msgId: string): Promise<void> {
  const js = jetstream(system.nc);
  const consumer = await js.consumers.get(streams.REQUESTS.name, 'scheduler');
  // A stopped replica's pull may still wait on the server for a moment and would take the message.
  await waitFor('no replica pulling', async () => ((await consumer.info()).num_waiting === 0 ? true : undefined), 20_000);
  await publishEvent(
    js,
    subjects.requestAdmitted('realtime', spec.tenant),
    makeEvent(
      { id: msgId, tenant: spec.tenant, requestId: spec.requestId, nowMs: Date.now() },
      { $case: 'requestAdmitted', requestAdmitted: { request: spec } },
    ),
  );
  const first = await consumer.next({ expires: 5_000 });
  expect(first?.info.deliveryCount).toBe(1);
  first!.nak();
}

const terminalsOf = async (requestId: string) => (await terminalsByRequest(system.nc)).get(requestId) ?? [];

/** A small realtime request admitted 30 s ago: judged on its age, the realtime objective sheds it. */
const agedRequest = (suffix: string): RequestSpec => {
  const requestId = `req_${'0'.repeat(24)}${suffix}`;
  return {
    requestId,
    tenant: 'acme',
    tier: Tier.TIER_REALTIME,
    model: 'llama-3.1-8b',
    prompt: 'hello',
    promptTokens: 4,
    maxTokens: 4,
    feature: '',
    seed: 7,
    inbox: `_SY.tokens.nobody.${requestId}`,
    relayInbox: '',
    replacedFrom: '',
    prefixHashes: [],
    prefixBlockTokens: 0,
    traceparent: '',
    stop: [],
    deadlineUnixMs: 0,
    admittedUnixMs: Date.now() - 30_000,
  };
};

describe('chaos: a redelivered request never contradicts its first decision', () => {
  it('a request already running is not rejected when its message comes back', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const stream = client.generate({ model: 'llama-3.1-8b', prompt: 'a long answer, please', maxTokens: 400 });
    let requestId = '';
    let chunks = 0;
    const outcome = (async () => {
      for await (const e of stream) {
        if (e.event?.$case === 'started') requestId = e.event.started.requestId;
        if (e.event?.$case === 'chunk') chunks++;
        if (e.event?.$case === 'finished') return 'finished';
      }
      return 'ended without finishing';
    })().catch((e: Error) => e.message);
    await waitFor('first chunks', async () => (chunks > 0 ? true : undefined));

    // The first scheduler placed it and dies before its ack reached the server.
    await system.scheduler.stop();
    const admitted = (await readStream(system.nc, streams.REQUESTS.name)).find((m) => m.event.envelope?.requestId === requestId)!;
    const spec = (admitted.event as Event & { payload: { $case: 'requestAdmitted' } }).payload.requestAdmitted.request!;
    // Admitted 30 s ago as the replica sees it: judged again, the realtime objective is long gone.
    await deliverTwice({ ...spec, admittedUnixMs: Date.now() - 30_000 }, `admitted-${requestId}-redelivered`);
    await startReplica();

    expect(await outcome).toBe('finished');
    await waitFor('the terminal event', async () => ((await terminalsOf(requestId)).length > 0 ? true : undefined));
    expect(await terminalsOf(requestId)).toEqual(['completed']);
    client.close();
  }, 60_000);

  it('a redelivered request with no decision on record is placed, not shed on its age', async () => {
    for (const r of extra.splice(0)) await r.scheduler.stop().then(() => r.nc.close());
    await system.scheduler.stop();
    const spec = agedRequest('redeliv1');
    const { requestId } = spec;
    await deliverTwice(spec, `admitted-${requestId}`);
    await startReplica();
    await waitFor('the terminal event', async () => ((await terminalsOf(requestId)).length > 0 ? true : undefined), 20_000);
    expect(await terminalsOf(requestId)).toEqual(['completed']);
  }, 60_000);

  it('a rejected request stays rejected when its message comes back, and never runs', async () => {
    const spec = agedRequest('redeliv2');
    const { requestId } = spec;
    // First delivery, to the running replica: 30 s old, so the realtime objective sheds it.
    const js = jetstream(system.nc);
    await publishEvent(
      js,
      subjects.requestAdmitted('realtime', 'acme'),
      makeEvent(
        { id: `admitted-${requestId}`, tenant: 'acme', requestId, nowMs: Date.now() },
        { $case: 'requestAdmitted', requestAdmitted: { request: spec } },
      ),
    );
    await waitFor('the rejection', async () => ((await terminalsOf(requestId)).length > 0 ? true : undefined), 20_000);
    expect(await terminalsOf(requestId)).toEqual(['rejected']);

    // It comes back fresh-looking, as a lost ack's redelivery to another replica would: judged
    // again it would be placed, run and billed under a "rejected" answer.
    for (const r of extra.splice(0)) await r.scheduler.stop().then(() => r.nc.close());
    await deliverTwice({ ...spec, admittedUnixMs: Date.now() }, `admitted-${requestId}-redelivered`);
    await startReplica();
    const consumer = await js.consumers.get(streams.REQUESTS.name, 'scheduler');
    await waitFor(
      'the redelivery settled',
      async () => ((await consumer.info()).num_ack_pending === 0 && (await consumer.info()).num_pending === 0 ? true : undefined),
      20_000,
    );
    const dispatched = (await readStream(system.nc, streams.USAGE.name)).filter((m) => m.event.envelope?.requestId === requestId);
    expect(dispatched).toEqual([]);
    expect(await terminalsOf(requestId)).toEqual(['rejected']);
  }, 60_000);
});
