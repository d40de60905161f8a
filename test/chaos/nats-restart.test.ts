import { Client, credentials } from '@grpc/grpc-js';
import { connectBus, jetstream, jetstreamManager, provisionStreams, type Subscription } from '@switchyard/bus';
import { decodeEvent, Outcome, streams } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream, storedMsgIds } from '../support/read-stream.js';
import { checkRequestInvariants, expectInvariantsHold } from '../support/request-invariants.js';
import { startSystem, type RunningSystem } from '../support/system.js';
import { expectBilledExactlyOnce } from '../support/usage-chaos.js';

/**
 * kill -9 of nats-server (private, file storage) three times within 60 s under a steady load
 * of 10 callers, back after 2 s on the same port and data: every service's consumers, KV
 * watches and subscriptions must resume, so requests succeed again within 5 s of the server's
 * return, and nothing JetStream acknowledged is lost.
 *
 * "0 acknowledged events lost" is proven twice: a side publisher counts its own PubAcks on a
 * stream provisioned as the system's are (file storage) and finds each acked message stored
 * afterwards; and the services' own facts of every request a caller saw complete (its
 * admission on REQUESTS, its usage on USAGE, its terminal on LIFECYCLE, its billable usage on
 * BILLING, its ledger row) are all there after the last restart.
 *
 * "No usage or billing fact travels over core NATS only" is proven structurally by
 * `test/architecture/facts-on-jetstream.test.ts` (every raw publish in the code is a reviewed
 * non-fact; facts go through `publishEvent`, which waits for the stream's ack and retries),
 * and checked here at run time: a core subscriber on `usage.>`, `billing.>` and `requests.>`
 * hears every publish on those subjects, acked or not, and each one it heard must have its
 * copy (same envelope id) in its stream. A publish that reached listeners but never the
 * stream, because the server was down or its JetStream not yet back, and was then given up,
 * would show here.
 */

const CALLERS = 10;
const DOWN_MS = 2_000;
const KILLS = 3;
const SIDE_STREAM = `ACKCHECK_${Math.random().toString(36).slice(2, 8).toUpperCase()}`;

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

/** grpc.health.v1 Check for the whole server: 1 SERVING, 2 NOT_SERVING (raw protobuf, one varint field). */
function healthOf(client: Client): Promise<number> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 2_000 },
      (e, res) => (e ? reject(e) : resolve(res && res.length >= 2 ? res[1]! : 0)),
    ),
  );
}

/** Which stream a fact subject heard on core NATS belongs to. */
const streamOf = (subject: string): string =>
  subject.startsWith('usage.')
    ? streams.USAGE.name
    : subject.startsWith('billing.')
      ? streams.BILLING.name
      : /^requests\.(admitted|replace)\./.test(subject)
        ? streams.REQUESTS.name
        : streams.LIFECYCLE.name;

/**
 * Publishes into `stream` (provisioned like the system's streams) until stopped, each message
 * with its own msgID, and resolves with the ids the server acknowledged and how many publishes
 * failed (during the outages).
 */
function startSidePublisher(url: string) {
  let running = true;
  const acked = new Set<string>();
  let failed = 0;
  const done = (async () => {
    const nc = await connectBus({ url, name: 'side-publisher' });
    const js = jetstream(nc);
    for (let n = 0; running;) {
      const wave = Array.from({ length: 10 }, () => `side-${n++}`);
      await Promise.all(
        wave.map((id) =>
          js.publish(`ackcheck.${id}`, new Uint8Array(64), { msgID: id, timeout: 1_000 }).then(
            () => acked.add(id),
            () => failed++,
          ),
        ),
      );
      await sleep(20);
    }
    await nc.close();
  })();
  return {
    acked,
    failures: () => failed,
    stop: async () => ((running = false), await done),
  };
}

describe('chaos: kill -9 of nats-server under load', () => {
  it('serves again within 5 s of each return, three times in 60 s; loses no acknowledged event; no fact exists only on core NATS', async () => {
    const started = Date.now();
    const { nc } = system;
    await provisionStreams(await jetstreamManager(nc), [
      { name: SIDE_STREAM, subjects: ['ackcheck.>'], retention: 'limits', maxAgeMs: 0, duplicateWindowMs: 120_000 },
    ]);

    // Everything published on fact subjects, as a core subscriber hears it.
    const heard: { subject: string; id: string }[] = [];
    const subscriptions: Subscription[] = ['usage.>', 'billing.>', 'requests.>'].map((subject) =>
      nc.subscribe(subject, { callback: (_e, m) => void heard.push({ subject: m.subject, id: decodeEvent(m.data).envelope?.id ?? '' }) }),
    );
    const side = startSidePublisher(system.servers.nats.url);

    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const health = new Client(system.admissionAddress, credentials.createInsecure());
    const calls: { startedMs: number; endedMs: number; requestId?: string }[] = [];
    let running = true;
    const caller = async () => {
      while (running) {
        const startedMs = Date.now();
        try {
          const r = await client.complete({ model: 'llama-3.1-8b', prompt: 'hello through the outage', maxTokens: 8, timeoutMs: 3_000 });
          calls.push({ startedMs, endedMs: Date.now(), requestId: r.requestId });
        } catch {
          calls.push({ startedMs, endedMs: Date.now() });
          await sleep(50);
        }
      }
    };
    const callers = Array.from({ length: CALLERS }, caller);
    const kills: number[] = [];
    const reconnectMs: number[] = [];
    try {
      for (let round = 1; round <= KILLS; round++) {
        await sleep(2_000);
        expect(
          calls.some((c) => c.requestId && c.startedMs > (kills.at(-1) ?? 0)),
          'requests succeed before the outage',
        ).toBe(true);
        await system.servers.nats.process!.kill();
        kills.push(Date.now());
        // Health tells the truth while the bus is down, and calls are refused at once, not hung.
        await waitFor('NOT_SERVING while NATS is down', async () => ((await healthOf(health)) === 2 ? true : undefined), DOWN_MS);
        const t0 = Date.now();
        await expect(client.complete({ model: 'llama-3.1-8b', prompt: 'anyone?', maxTokens: 4, timeoutMs: 5_000 })).rejects.toMatchObject({ code: 14 });
        expect(Date.now() - t0).toBeLessThan(1_000);
        await sleep(DOWN_MS);
        await system.servers.nats.process!.restart();
        const backAt = Date.now();
        // The first request started after the return that succeeds; a deadline, not a fixed sleep.
        const firstServed = () => calls.filter((c) => c.requestId && c.startedMs >= backAt).sort((a, b) => a.endedMs - b.endedMs)[0];
        const first = await waitFor(`a request served after return ${round}`, firstServed, 5_000).catch(() => undefined);
        reconnectMs.push(first ? first.endedMs - backAt : Infinity);
        console.log(`round ${round}: first request started after nats-server returned served ${first ? first.endedMs - backAt : 'never'} ms after the return`);
        expect(first, `a request succeeds within 5 s of nats-server's return (round ${round})`).toBeDefined();
        expect(first!.endedMs - backAt).toBeLessThanOrEqual(5_000);
        expect(await healthOf(health)).toBe(1);
      }
      expect(kills.at(-1)! - kills[0]!, 'three kills within 60 s').toBeLessThan(60_000);
      await sleep(1_000);
    } finally {
      running = false;
      await Promise.all(callers);
      await side.stop();
      client.close();
      health.close();
    }

    const served = calls.filter((c) => c.requestId).map((c) => c.requestId!);
    const report = await checkRequestInvariants({
      nc,
      sql: system.sql,
      natsUrl: system.servers.nats.url,
      databaseUrl: system.servers.postgres.url,
      sinceMs: started,
      timeoutMs: 30_000,
    });
    expectInvariantsHold(report);
    for (const s of subscriptions) s.unsubscribe();

    // (a) Every message the side publisher had acked is in its stream.
    const sideStored = await storedMsgIds(nc, SIDE_STREAM);
    const sideLost = [...side.acked].filter((id) => !sideStored.has(id));
    expect(sideLost).toEqual([]);

    // (a) Every fact of every request a caller saw complete is where it belongs.
    const stored = new Map<string, Awaited<ReturnType<typeof readStream>>>();
    for (const s of [streams.REQUESTS, streams.LIFECYCLE, streams.USAGE, streams.BILLING]) stored.set(s.name, await readStream(nc, s.name));
    const requestIdsOf = (stream: string, keep: (m: Awaited<ReturnType<typeof readStream>>[number]) => boolean) =>
      new Set(
        stored
          .get(stream)!
          .filter(keep)
          .map((m) => m.event.envelope?.requestId ?? ''),
      );
    const admitted = requestIdsOf(streams.REQUESTS.name, (m) => m.subject.startsWith('requests.admitted.'));
    const completed = requestIdsOf(streams.LIFECYCLE.name, (m) => m.subject.startsWith('requests.completed.'));
    const used = requestIdsOf(
      streams.USAGE.name,
      (m) => m.event.payload?.$case === 'usageRecorded' && m.event.payload.usageRecorded.outcome === Outcome.OUTCOME_COMPLETED,
    );
    const billable = requestIdsOf(streams.BILLING.name, (m) => m.subject.startsWith('billing.usage.'));
    const ledger = new Set(
      (await system.sql<{ request_id: string }[]>`SELECT DISTINCT request_id FROM ledger_transactions WHERE kind = 'usage'`).map((r) => r.request_id),
    );
    expect({
      notAdmitted: served.filter((id) => !admitted.has(id)),
      noTerminal: served.filter((id) => !completed.has(id)),
      noUsage: served.filter((id) => !used.has(id)),
      noBillable: served.filter((id) => !billable.has(id)),
      noLedgerRow: served.filter((id) => !ledger.has(id)),
    }).toEqual({ notAdmitted: [], noTerminal: [], noUsage: [], noBillable: [], noLedgerRow: [] });

    // (b) Nothing heard on a fact subject exists only on core NATS.
    const ids = new Map([...stored].map(([name, messages]) => [name, new Set(messages.map((m) => m.event.envelope?.id))]));
    const coreOnly = heard.filter((h) => !ids.get(streamOf(h.subject))!.has(h.id));
    expect(coreOnly).toEqual([]);

    // Every usage fact metered and billed once, the ledger balanced, reconcile 0.
    const usageIds = new Set(
      stored.get(streams.USAGE.name)!.map((m) => (m.event.payload?.$case === 'usageRecorded' ? m.event.payload.usageRecorded.usageId : '')),
    );
    const figures = await expectBilledExactlyOnce({
      nc,
      sql: system.sql,
      databaseUrl: system.servers.postgres.url,
      natsUrl: system.servers.nats.url,
      published: usageIds,
      sinceMs: started,
    });

    console.log(
      `nats restarts: ${KILLS} kills in ${((kills.at(-1)! - kills[0]!) / 1000).toFixed(1)} s; first request served ${reconnectMs.join(', ')} ms after each return; ` +
        `${calls.length} calls, ${served.length} completed, each with its admission, usage, terminal, billable usage and ledger row; ` +
        `side publisher ${side.acked.size} acked (${side.failures()} failed during outages), ${sideStored.size} stored, ${sideLost.length} acked lost; ` +
        `${heard.length} fact messages heard on core NATS, ${coreOnly.length} without a JetStream copy; ` +
        `${report.admitted} admitted, each ended once; ${figures.transactions} usage records billed once, ${figures.unbalanced} unbalanced, metered ${figures.metered}; reconcile 0`,
    );
  }, 150_000);
});
