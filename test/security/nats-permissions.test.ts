import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, jetstreamManager, provisionStreams, removeAckedLeftovers, type NatsConnection } from '@switchyard/bus';
import { Outcome, streams, subjects, type WorkerFaultReply } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { freePort, startFakeOpenAiUpstream, testPool, waitFor, type FakeUpstream } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startServiceProcess } from '../support/service-process.js';
import { TEST_POOLS, startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #15, item 8: the NATS users of deploy/nats (compose and the cluster). The whole system
 * runs here with each service logged in as its own user, so a permission list that misses
 * something a service does shows up as a violation in the server's log.
 */
const DEPLOY = new URL('../../deploy/nats/', import.meta.url).pathname;
const USERS = [
  'admission',
  'policy',
  'scheduler',
  'batcher',
  'worker-simulator',
  'engine-adapter',
  'metering',
  'billing',
  'batch',
  'operator',
  'analyst',
] as const;
type User = (typeof USERS)[number];
const SERVICES = USERS.filter((u) => u !== 'operator' && u !== 'analyst');
const passwords = Object.fromEntries(USERS.map((u) => [u, `pw${randomBytes(12).toString('hex')}`])) as Record<User, string>;
const passwordEnv = Object.fromEntries(USERS.map((u) => [`NATS_${u.toUpperCase().replaceAll('-', '_')}_PASSWORD`, passwords[u]]));

/** The user each connection of the test system logs in as; the test's own is the operator. */
const userOf = (connection: string): User => {
  if (connection.startsWith('admission')) return 'admission';
  return (USERS as readonly string[]).includes(connection) ? (connection as User) : 'operator';
};
const urlAs = (user: User, url: string) => url.replace('nats://', `nats://${user}:${passwords[user]}@`);

let system: RunningSystem;
let client: SwitchyardClient;
let engine: FakeUpstream;
let serverLog = '';
const opened: NatsConnection[] = [];

/** Permission violations the server logged for `user`, as `Publish|Subscription <subject>`. */
function violations(user: User): string[] {
  return serverLog.split('\n').flatMap((line) => {
    const m = /(Publish|Subscription) Violation - User "([^"]+)", Subject "([^"]+)"/.exec(line);
    return m && m[2] === user ? [`${m[1]} ${m[3]}`] : [];
  });
}

async function as(user: User): Promise<NatsConnection> {
  const nc = await connectBus({ url: urlAs(user, system.servers.nats.url), name: `test-${user}` });
  opened.push(nc);
  return nc;
}

const faultReply = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as WorkerFaultReply;

beforeAll(async () => {
  engine = await startFakeOpenAiUpstream({ kind: 'stream', tokens: ['from', ' an', ' engine'] });
  system = await startSystem({
    // Besides the simulated pool, one of a real engine, served by the engine adapter as its own user.
    pools: [
      ...TEST_POOLS,
      testPool({
        id: 'vllm-eu-1b',
        model: 'llama-3.2-1b',
        kind: 'openai-compatible',
        endpoint: { baseUrl: engine.baseUrl, concurrency: 4, firstTokenTimeoutMs: 5_000, idleTimeoutMs: 5_000 },
      }),
    ],
    engineAdapter: {},
    // Workers at the profile's real pace: at full speed the 2,000-token stream below could
    // finish before its cancel arrived (COMPLETED in 1 of 3 runs), and then no cancel crosses.
    workerSpeed: 1,
    nats: { configFile: join(DEPLOY, 'nats.conf'), serverEnv: { ...process.env, ...passwordEnv }, onOutput: (text) => void (serverLog += text) },
    natsUrlOf: (connection, url) => urlAs(userOf(connection), url),
    workerFaults: true,
    batch: {},
  });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey, billingAddress: system.billingAddress });
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const nc of opened) await nc.close();
  await system?.stop();
  await engine?.close();
});

describe('NATS users of deploy/nats', () => {
  it('refuses a connection without a user, or with a wrong password', async () => {
    await expect(connectBus({ url: system.servers.nats.url, name: 'anonymous' })).rejects.toThrow(/authorization/i);
    await expect(connectBus({ url: system.servers.nats.url.replace('nats://', 'nats://admission:wrong@'), name: 'guess' })).rejects.toThrow(/authorization/i);
  });

  it('lets every service provision the streams at start, as runService does', async () => {
    for (const user of SERVICES) await provisionStreams(await jetstreamManager(await as(user)), Object.values(streams));
    for (const user of SERVICES) expect({ user, violations: violations(user) }).toEqual({ user, violations: [] });
  });

  it('lets every service do its work as its own user: a request completes, is metered and billed, with no violation logged', async () => {
    const reply = await client.complete({ model: 'llama-3.1-8b', prompt: 'Say hello to the switchyard', maxTokens: 16, seed: 3 });
    expect(reply.outcome).toBe(Outcome.OUTCOME_COMPLETED);
    await waitFor(
      'the ledger transaction',
      async () => {
        const rows = await system.sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE request_id = ${reply.requestId}`;
        return Number(rows[0]?.n) === 1 ? true : undefined;
      },
      20_000,
    );
    // A cancelled stream takes the cancel subject, admission -> workers.
    const stream = client.generate({ model: 'llama-3.1-8b', prompt: 'a long one', maxTokens: 2_000, seed: 4 });
    let cancelled = '';
    try {
      for await (const e of stream) {
        if (e.event?.$case === 'started') cancelled = e.event.started.requestId;
        if (e.event?.$case === 'chunk') stream.cancel();
      }
    } catch (e) {
      expect(e).toMatchObject({ code: 1 }); // CANCELLED, as grpc-js ends a cancelled call
    }
    const outcome = await waitFor('the cancelled terminal event', async () => {
      const t = (await readStream(system.nc, streams.LIFECYCLE.name)).find((m) => m.event.envelope?.requestId === cancelled);
      return t?.event.payload?.$case === 'requestTerminated' ? t.event.payload.requestTerminated.outcome : undefined;
    });
    expect(outcome).toBe(Outcome.OUTCOME_CANCELLED);
    await sleep(500);
    for (const user of USERS) expect({ user, violations: violations(user) }).toEqual({ user, violations: [] });
  });

  it("lets the batcher remove batches a pool's consumer counts as done that BATCHES still holds (left by a nats-server kill)", async () => {
    // A completed request: its pool's consumer has acked a batch, so its floor is past 0.
    expect((await client.complete({ model: 'llama-3.1-8b', prompt: 'one batch acked', maxTokens: 4 })).outcome).toBe(Outcome.OUTCOME_COMPLETED);
    const jsm = await jetstreamManager(await as('batcher'), { timeout: 2_000 });
    let withAcks = 0;
    for await (const c of jsm.consumers.list(streams.BATCHES.name)) {
      if (c.ack_floor.stream_seq === 0) continue;
      withAcks++;
      // It asks for the next message on the consumer's subject (STREAM.MSG.GET): none is left here.
      expect(await removeAckedLeftovers(jsm, streams.BATCHES.name, c)).toBe(0);
    }
    expect(withAcks, 'a consumer of BATCHES that acked a batch').toBeGreaterThan(0);
    // A delete reaches the stream as this user: a batch long acked is not found, not refused.
    await expect(jsm.streams.deleteMessage(streams.BATCHES.name, 1, false)).rejects.toThrow(/no message found/);
    await sleep(500);
    expect(violations('batcher')).toEqual([]);
  });

  it("lets the engine adapter serve a real engine's pool, and the scheduler end a request no other pool can take", async () => {
    const served = await client.complete({ model: 'llama-3.2-1b', prompt: 'an engine pool', maxTokens: 8 });
    expect(served).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, text: 'from an engine' });
    // A failure before the first token goes back to the scheduler (requests.replace), which finds no other 1B pool.
    engine.answer({ kind: 'status', status: 503 });
    await expect(client.complete({ model: 'llama-3.2-1b', prompt: 'the engine is down', maxTokens: 8 })).rejects.toMatchObject({
      details: expect.stringMatching(/HTTP 503 before its first token.*; no other pool could take it/),
    });
    await sleep(500);
    for (const user of ['engine-adapter', 'scheduler'] as const) expect({ user, violations: violations(user) }).toEqual({ user, violations: [] });
  });

  it('lets the scheduler and billing record operator actions on AUDIT, allowed and denied, and the analyst read them', async () => {
    const operator = { tenant: 'ops', keyId: 'ops-1', operator: true, tiers: [], feature: '' };
    const pool = TEST_POOLS[0]!.id;
    await system.scheduler.operatorActions.drain(operator, pool, 'permissions check');
    await system.scheduler.operatorActions.undrain(operator, pool);
    await expect(system.scheduler.operatorActions.drain({ ...operator, tenant: 'acme', keyId: 'acme-1', operator: false }, pool, 'no')).rejects.toThrow(
      /operator key/,
    );
    await system.setBudget('acme', { softLimitMicros: 1_000_000 });
    const audit = await readStream(await as('analyst'), streams.AUDIT.name);
    expect(audit.map((m) => m.subject)).toEqual(['audit.drain._fleet', 'audit.undrain._fleet', 'audit.drain._fleet', 'audit.budget-set.acme']);
    await sleep(500);
    for (const user of ['scheduler', 'billing', 'analyst'] as const) expect({ user, violations: violations(user) }).toEqual({ user, violations: [] });
  });

  it('lets the scheduler serve the live console as its own process and user: keys from the tenants bucket, prices, every decision', async () => {
    const port = await freePort();
    const scheduler = await startServiceProcess('scheduler', {
      NATS_URL: urlAs('scheduler', system.servers.nats.url),
      POOLS_FILE: system.poolsFile,
      CONSOLE_LISTEN: `127.0.0.1:${port}`,
      METRICS_PORT: '0',
    });
    try {
      const url = `http://127.0.0.1:${port}/console`;
      const as = (key: string) => ({ authorization: `Bearer ${key}` });
      // A tenant's key (from the bucket) reads; its drain is refused and recorded by this process.
      const reply = await client.complete({ model: 'llama-3.1-8b', prompt: 'seen by the console', maxTokens: 8 });
      const snapshot = await waitFor('the completion in the console', async () => {
        const s = (await (await fetch(`${url}/snapshot`, { headers: as(system.apiKey) })).json()) as {
          viewer: { tenant: string };
          tenants: { tenant: string }[];
          decisions: { requestId: string }[];
        };
        return s.tenants.length > 0 && s.decisions.some((d) => d.requestId === reply.requestId) ? s : undefined;
      });
      expect(snapshot.viewer.tenant).toBe('acme');
      expect(snapshot.tenants.map((t) => t.tenant)).toEqual(['acme']);
      const refused = await fetch(`${url}/pools/${TEST_POOLS[0]!.id}/drain`, { method: 'POST', headers: as(system.apiKey) });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/needs an operator key/);
    } finally {
      await scheduler.stop();
    }
    await sleep(500);
    expect({ user: 'scheduler', violations: violations('scheduler') }).toEqual({ user: 'scheduler', violations: [] });
  });

  it('lets only the operator send fault commands to the workers', async () => {
    const pool = 'test-eu-h100-8b';
    const worker = await as('worker-simulator');
    worker.publish(subjects.workerControl(pool), JSON.stringify({ kind: 'crash' }));
    await worker.flush();
    await waitFor('the violation in the log', () => (violations('worker-simulator').includes(`Publish ${subjects.workerControl(pool)}`) ? true : undefined));

    const operator = await as('operator');
    expect(faultReply((await operator.request(subjects.workerControl(pool), JSON.stringify({ kind: 'status' }), { timeout: 2_000 })).data)).toMatchObject({
      crashed: false,
    });
    expect(
      faultReply((await operator.request(subjects.workerControl(pool), JSON.stringify({ kind: 'slowdown', factor: 2 }), { timeout: 2_000 })).data),
    ).toMatchObject({ slowdown: 2 });
    await operator.request(subjects.workerControl(pool), JSON.stringify({ kind: 'clear' }), { timeout: 2_000 });
  });

  it('lets the analyst replay the streams but publish no event and take nothing from a work queue', async () => {
    const analyst = await as('analyst');
    const lifecycle = await readStream(analyst, streams.LIFECYCLE.name);
    expect(lifecycle.some((m) => m.subject.startsWith('requests.completed.'))).toBe(true);

    const admittedBefore = (await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages;
    analyst.publish(subjects.requestAdmitted('realtime', 'acme'), 'forged');
    await analyst.flush();
    await waitFor('the violation in the log', () => (violations('analyst').includes('Publish requests.admitted.realtime.acme') ? true : undefined));
    expect((await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages).toBe(admittedBefore);

    const jsm = await jetstreamManager(analyst, { timeout: 1_000 });
    await expect(jsm.consumers.add(streams.BATCHES.name, { name: 'peek', ack_policy: 'none' as never })).rejects.toThrow();
    await waitFor('the violation in the log', () =>
      violations('analyst').some((v) => v.startsWith('Publish $JS.API.CONSUMER.CREATE.BATCHES')) ? true : undefined,
    );
  });
});
