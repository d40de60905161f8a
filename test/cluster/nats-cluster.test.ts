import { status, type ServiceError } from '@grpc/grpc-js';
import { jetstream, jetstreamManager, type JetStreamManager } from '@switchyard/bus';
import { buckets, encodeEvent, makeEvent, Outcome, streams, subjects, Tier, type Decision } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { startNatsCluster, waitFor, type NatsCluster } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream, terminalsByRequest } from '../support/read-stream.js';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';
import { reconcileSystem } from '../support/reconcile.js';

/**
 * Issue #20, past one machine: a 3-node nats-server cluster on loopback, every stream and KV
 * bucket with 3 replicas, every connection given all three nodes. Requests of every tier run
 * through admission while the node leading REQUESTS is killed with kill -9; the callers keep
 * going on the two survivors, then the node comes back on its store. Afterwards: every
 * acknowledged publish is still there, every admitted request ended exactly once, every
 * completed request was metered and billed exactly once, and reconcile finds nothing.
 */

const REPLICAS = 3;
const TOTAL = 300;
const CALLERS = 8;
/** Requests started before the kill: the rest run on two nodes, or through the election. */
const KILL_AFTER = 100;
const MARKER_TENANT = 'chaos-markers';

let cluster: NatsCluster;
let system: RunningSystem;

beforeAll(async () => {
  cluster = await startNatsCluster({ nodes: 3 });
  system = await startSystem({ natsCluster: { url: cluster.url, replicas: REPLICAS } });
}, 60_000);
afterAll(async () => {
  await system?.stop();
  await cluster?.dispose();
});

interface Call {
  readonly sentAt: number;
  requestId?: string;
  startedAt?: number;
  /** `completed`, another outcome the stream finished with, or the gRPC status code of the error. */
  result?: string;
}

/** One streamed generation, as an app sees it: `started` means admitted. */
async function call(client: ReturnType<typeof createSwitchyardClient>, n: number): Promise<Call> {
  const c: Call = { sentAt: Date.now() };
  const tier = [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH][n % 3]!;
  try {
    for await (const e of client.generate({
      model: 'llama-3.1-8b',
      prompt: `request ${n} across the cluster`,
      maxTokens: 8 + (n % 5),
      tier,
      timeoutMs: 20_000,
    })) {
      if (e.event?.$case === 'started') Object.assign(c, { requestId: e.event.started.requestId, startedAt: Date.now() });
      if (e.event?.$case === 'finished')
        c.result = e.event.finished.outcome === Outcome.OUTCOME_COMPLETED ? 'completed' : `outcome ${e.event.finished.outcome}`;
    }
    c.result ??= 'ended without finishing';
  } catch (e) {
    c.result = `code ${(e as ServiceError).code}`;
  }
  return c;
}

/** Where admitted requests wait: each stage's durable consumer, for failure messages. */
async function pipeline(jsm: JetStreamManager): Promise<string[]> {
  const pool = TEST_POOLS[0]!.id;
  return Promise.all(
    [
      [streams.REQUESTS.name, 'scheduler'],
      [streams.DISPATCH.name, `batcher-${pool}`],
      [streams.BATCHES.name, `workers-${pool}`],
      [streams.LIFECYCLE.name, 'admission'],
    ].map(async ([st, d]) => {
      const i = await jsm.consumers.info(st!, d!).catch((e: Error) => e);
      if (i instanceof Error) return `${st}/${d} ${i.message}`;
      return `${st}/${d} (leader ${i.cluster?.leader}) pending ${i.num_pending}, unacked ${i.num_ack_pending}, waiting ${i.num_waiting}, redelivered ${i.num_redelivered}`;
    }),
  ).then(async (durables) => {
    // Admission's terminal watch: an ordered consumer on LIFECYCLE, where it lives and how far it got.
    const last = (await jsm.streams.info(streams.LIFECYCLE.name)).state.last_seq;
    const ordered: string[] = [];
    for await (const c of jsm.consumers.list(streams.LIFECYCLE.name)) {
      if (!c.config.durable_name) ordered.push(`${c.name} on ${c.cluster?.leader} at ${c.delivered.stream_seq}, pending ${c.num_pending}`);
    }
    return [...durables, `LIFECYCLE last seq ${last}, ordered consumers: ${ordered.join(', ') || 'none'}`];
  });
}

const leaderOf = async (jsm: JetStreamManager, stream: string) => (await jsm.streams.info(stream)).cluster?.leader ?? '';

describe('chaos: kill -9 of a NATS cluster node under load', () => {
  it('loses no acknowledged event, ends every admitted request once, bills every completion once and reconciles to 0', async () => {
    const calls: Call[] = [];
    const acked: string[] = [];
    let markerFailures = 0;
    const jsm = await jetstreamManager(system.nc);
    const kvStreams = Object.values(buckets).map((b) => `KV_${b}`);
    for (const name of [...Object.values(streams).map((s) => s.name), ...kvStreams]) {
      const info = await jsm.streams.info(name);
      expect({ name, replicas: info.config.num_replicas, peers: info.cluster?.replicas?.length }).toEqual({ name, replicas: REPLICAS, peers: REPLICAS - 1 });
    }

    // Markers: the test's own acknowledged publishes, every 20 ms through the kill.
    const js = jetstream(system.nc);
    let marking = true;
    const markers = (async () => {
      for (let i = 0; marking; i++) {
        const id = `marker-${i}`;
        const decision: Decision = {
          service: 'admission',
          action: 'marker',
          reason: 'chaos marker',
          chosen: '',
          candidates: [],
          categories: [],
          ruleIds: [],
          policyVersion: '',
          latencyMs: 0,
          user: '',
        };
        const event = makeEvent({ id, tenant: MARKER_TENANT, requestId: id, nowMs: Date.now() }, { $case: 'decision', decision });
        try {
          const ack = await js.publish(subjects.decision('admission', MARKER_TENANT), encodeEvent(event), { msgID: id, timeout: 2_000 });
          if (!ack.duplicate) acked.push(id);
        } catch {
          markerFailures++;
        }
        await sleep(20);
      }
    })();

    const clients = [system.apiKey, system.otherApiKey].map((apiKey) => createSwitchyardClient({ address: system.admissionAddress, apiKey }));
    let next = 0;
    const callers = Array.from({ length: CALLERS }, async (_, k) => {
      while (next < TOTAL) {
        const n = next++;
        calls.push(await call(clients[k % 2]!, n));
      }
    });

    await waitFor('the first requests admitted', () => (calls.filter((c) => c.requestId).length >= KILL_AFTER ? true : undefined), 60_000);
    const leaders = Object.fromEntries(await Promise.all(['REQUESTS', 'LIFECYCLE', 'USAGE'].map(async (s) => [s, await leaderOf(jsm, s)])));
    const victim = cluster.indexOf(leaders.REQUESTS!);
    const killedAt = Date.now();
    await cluster.kill(victim);
    const led = Object.entries(leaders)
      .filter(([, l]) => l === leaders.REQUESTS)
      .map(([s]) => s);

    // Bounded: a stalled pipeline fails here with what the callers saw, not as a test timeout.
    await waitFor('every call ended', () => (calls.length === TOTAL ? true : undefined), 45_000).catch(async (e: Error) => {
      const stuck = calls.slice(-8).map((c) => c.result);
      throw new Error(`${e.message}: ${calls.length} of ${TOTAL} calls ended, last ${stuck.join(', ')}; ${(await pipeline(jsm)).join('; ')}`);
    });
    await Promise.all(callers);
    const afterKill = calls.filter((c) => c.sentAt > killedAt && c.requestId);
    const failoverMs = Math.min(...afterKill.map((c) => c.startedAt! - killedAt));
    expect(afterKill.length, 'requests are admitted again after the kill').toBeGreaterThan(0);
    const newLeader = await leaderOf(jsm, 'REQUESTS');
    expect(newLeader).not.toBe(leaders.REQUESTS);

    // The node comes back on its store and catches up.
    await cluster.restart(victim);
    marking = false;
    await markers;
    // Settled: every admitted request ended, metering and billing caught up, and all three
    // replicas of the streams read hold the same messages (reads may be served by any of them,
    // and it shows the restarted node caught up on everything it missed).
    const checked = [streams.REQUESTS.name, streams.LIFECYCLE.name, streams.USAGE.name, streams.DECISIONS.name];
    // The probe throws what is still missing: a timeout then says which part never settled.
    await waitFor(
      'every admitted request ended and billed, and the replicas agreeing',
      async () => {
        for (const s of checked) {
          const states = await cluster.streamStates(s);
          if (states.length !== REPLICAS || states.some((r) => r.lastSeq !== states[0]!.lastSeq || r.messages !== states[0]!.messages)) {
            throw new Error(`replicas of ${s} differ: ${JSON.stringify(states)}`);
          }
        }
        const ids = (await readStream(system.nc, streams.REQUESTS.name)).filter((m) => m.subject.startsWith('requests.admitted.'));
        const ended = await terminalsByRequest(system.nc);
        const open = ids.filter((m) => !ended.has(m.event.envelope!.requestId));
        if (open.length > 0) {
          const where = await pipeline(jsm);
          const ids = open.map((m) => m.event.envelope!.requestId);
          // How far the first one got: the decisions it left on its way (scheduler placement, ...).
          const trail = (await readStream(system.nc, streams.DECISIONS.name))
            .filter((m) => m.event.envelope?.requestId === ids[0])
            .map((m) =>
              m.event.payload?.$case === 'decision' ? `${m.subject} ${m.event.payload.decision.action}: ${m.event.payload.decision.reason}` : m.subject,
            );
          throw new Error(
            `${open.length} admitted requests without a terminal event (${ids.join(', ')}); ${where.join('; ')}; decisions of ${ids[0]}: ${trail.join(' | ')}`,
          );
        }
        const completions = [...ended.values()].filter((t) => t[0] === 'completed').length;
        const [m, b] = await Promise.all([jsm.consumers.info(streams.USAGE.name, 'metering'), jsm.consumers.info(streams.BILLING.name, 'billing')]);
        const [row] = await system.sql<{ n: string }[]>`SELECT count(DISTINCT request_id) AS n FROM ledger_transactions WHERE kind = 'usage'`;
        if (Number(row!.n) < completions || m.num_pending + m.num_ack_pending + b.num_pending + b.num_ack_pending > 0) {
          throw new Error(
            `billed ${row!.n} of ${completions} completions; metering ${m.num_pending}+${m.num_ack_pending}, billing ${b.num_pending}+${b.num_ack_pending} unsettled`,
          );
        }
        return true;
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${(e.cause as Error | undefined)?.message}`);
    });
    const admittedIds = (await readStream(system.nc, streams.REQUESTS.name))
      .filter((m) => m.subject.startsWith('requests.admitted.'))
      .map((m) => m.event.envelope!.requestId);
    const terminals = await terminalsByRequest(system.nc);
    const completed = [...terminals].filter(([, t]) => t[0] === 'completed').map(([id]) => id);
    // 0 acknowledged events lost: the markers, and the admissions callers were told about.
    const markerIds = new Set(
      (await readStream(system.nc, streams.DECISIONS.name))
        .filter((m) => m.subject === subjects.decision('admission', MARKER_TENANT))
        .map((m) => m.event.envelope!.id),
    );
    expect(acked.filter((id) => !markerIds.has(id))).toEqual([]);
    const seen = calls.filter((c) => c.requestId);
    const admittedSet = new Set(admittedIds);
    expect(seen.filter((c) => !admittedSet.has(c.requestId!)).map((c) => c.requestId)).toEqual([]);

    // Exactly one terminal outcome per admitted request, and the one its caller heard.
    expect([...terminals].filter(([id, t]) => admittedSet.has(id) && t.length !== 1)).toEqual([]);
    expect(new Set(admittedIds).size).toBe(admittedIds.length);
    expect(seen.filter((c) => c.result === 'completed' && terminals.get(c.requestId!)?.[0] !== 'completed').map((c) => c.requestId)).toEqual([]);
    // DATA_LOSS: token chunks (core NATS, at most once) died with the node, and the caller was
    // told the request ran and is billed. It must indeed have completed.
    expect(seen.filter((c) => c.result === `code ${status.DATA_LOSS}` && terminals.get(c.requestId!)?.[0] !== 'completed').map((c) => c.requestId)).toEqual([]);

    // USAGE: one completed usage record per completed request, no duplicates.
    const usage = (await readStream(system.nc, streams.USAGE.name)).map((m) =>
      m.event.payload?.$case === 'usageRecorded' ? m.event.payload.usageRecorded : undefined,
    );
    const usageIds = usage.map((u) => u!.usageId);
    expect(new Set(usageIds).size, 'no usage record twice').toBe(usageIds.length);
    const completedUsage = usage.filter((u) => (u!.outcome ?? Outcome.OUTCOME_COMPLETED) === Outcome.OUTCOME_COMPLETED).map((u) => u!.requestId);
    expect([...completedUsage].sort()).toEqual([...completed].sort());

    // Ledger: every usage record posted once, every completion among them, every transaction balanced.
    const rows = await system.sql<{ usage_id: string; request_id: string }[]>`SELECT usage_id, request_id FROM ledger_transactions WHERE kind = 'usage'`;
    expect(rows.map((r) => r.usage_id).sort()).toEqual([...usageIds].sort());
    const billedCompletions = rows.filter((r) => completed.includes(r.request_id));
    expect(billedCompletions.length).toBe(completed.length);
    const unbalanced = await system.sql`
      SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
      HAVING sum(CASE side WHEN 'debit' THEN amount_micros ELSE 0 END) <> sum(CASE side WHEN 'credit' THEN amount_micros ELSE 0 END)`;
    expect(unbalanced.length).toBe(0);

    const report = await reconcileSystem(system, killedAt - 3_600_000);
    expect({ ok: report.ok, differences: report.differences, tokenDifference: report.tokenDifference, unmetered: report.completions?.unmetered }).toEqual({
      ok: true,
      differences: [],
      tokenDifference: 0,
      unmetered: [],
    });

    const results = new Map<string, number>();
    for (const c of calls) results.set(c.result!, (results.get(c.result!) ?? 0) + 1);
    const outcomes = new Map<string, number>();
    for (const [, t] of terminals) outcomes.set(t[0]!, (outcomes.get(t[0]!) ?? 0) + 1);
    console.log(
      [
        `nats cluster chaos: ${TOTAL} requests by ${CALLERS} callers, kill -9 of ${leaders.REQUESTS} (leader of ${led.join(', ')}) after ${KILL_AFTER} admitted; REQUESTS leader now ${newLeader}`,
        `  callers heard: ${[...results].map(([k, v]) => `${k} ${v}`).join(', ')}; ${seen.length} admitted, ${afterKill.length} of them sent after the kill`,
        `  first admission after the kill: ${failoverMs} ms`,
        `  terminal outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}; ${admittedIds.length} admitted requests, each with exactly one`,
        `  markers: ${acked.length} acknowledged, all ${markerIds.size >= acked.length ? 'found' : 'NOT found'}; ${markerFailures} publishes not acknowledged`,
        `  usage records ${usageIds.length}, ledger usage transactions ${rows.length}, completed ${completed.length}; reconcile ok, 0 differences`,
      ].join('\n'),
    );
    clients.forEach((c) => c.close());
  }, 90_000);
});
