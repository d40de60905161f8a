import { connectBus, jetstream, jetstreamManager, provisionStreams, publishEvent, publishTerminal, terminalOf, type NatsConnection } from '@switchyard/bus';
import { Event, makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { createLogger, Registry } from '@switchyard/telemetry';
import { startNats, startPostgres, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetering, type Metering } from './service.js';

let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let metering: Metering;
const registry = new Registry();
const T = Date.UTC(2032, 4, 4, 12, 0, 30);

const usage = (i: number, tier: Tier = Tier.TIER_REALTIME): UsageRecorded => ({
  usageId: `usage-r${i}`,
  requestId: `r${i}`,
  tenant: i % 2 ? 'acme' : 'globex',
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier,
  pool: 'p1',
  workerId: 'w',
  usage: { inputTokens: 100 + i, cachedInputTokens: 10, outputTokens: 20 },
  gpuMs: 250.5,
  queueMs: 1,
  ttftMs: 40,
  totalMs: 300,
});

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'metering-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  metering = createMetering({ nc, js: jetstream(nc), sql, logger: createLogger({ service: 'metering', level: 'silent' }), registry });
  await metering.start();
}, 60_000);

afterAll(async () => {
  await metering?.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('metering', () => {
  it('meters each usage id once, rolls it up per minute and publishes it for billing as first recorded', async () => {
    const js = jetstream(nc);
    const publish = (u: UsageRecorded, envelopeId: string, at: number) =>
      publishEvent(
        js,
        subjects.usageRecorded(u.tenant),
        makeEvent({ id: envelopeId, tenant: u.tenant, requestId: u.requestId, nowMs: at }, { $case: 'usageRecorded', usageRecorded: u }),
      );
    for (let i = 0; i < 20; i++) await publish(usage(i, i < 15 ? Tier.TIER_REALTIME : Tier.TIER_BATCH), usage(i).usageId, T);
    await waitFor('first deliveries metered', async () => {
      const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM metered_usage`;
      return Number(r!.n) === 20 ? true : undefined;
    });
    // A worker that re-emits usage later, under another envelope id (as after the stream's
    // duplicate window), must not count twice nor change the recorded time.
    for (let i = 0; i < 5; i++) await publish(usage(i), `replay-${i}`, T + 3 * 3_600_000);

    await waitFor('usage metered', async () => {
      const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM metered_usage`;
      const info = await (await jetstreamManager(nc)).streams.info(streams.USAGE.name);
      const pending = await (await jetstreamManager(nc)).consumers.info(streams.USAGE.name, 'metering');
      return Number(r!.n) === 20 && info.state.messages === 25 && pending.num_pending === 0 && pending.num_ack_pending === 0 ? true : undefined;
    });
    const rollups = await sql<{ tenant: string; minute: Date; tier: string; requests: string; input_tokens: string; gpu_us: string }[]>`
      SELECT tenant, minute, tier, requests, input_tokens, gpu_us FROM usage_minute_rollups ORDER BY tenant, tier`;
    expect(rollups.map((r) => [r.tenant, r.tier, Number(r.requests), r.minute.getTime()])).toEqual([
      ['acme', 'batch', 3, T - 30_000],
      ['acme', 'realtime', 7, T - 30_000],
      ['globex', 'batch', 2, T - 30_000],
      ['globex', 'realtime', 8, T - 30_000],
    ]);
    expect(rollups.reduce((s, r) => s + Number(r.input_tokens), 0)).toBe(20 * 100 + 190);
    expect(rollups.reduce((s, r) => s + Number(r.gpu_us), 0)).toBe(20 * 250_500);

    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(streams.BILLING.name, { subjects_filter: 'billing.usage.>' });
    expect(info.state.messages).toBe(20);
    const first = Event.decode((await jsm.streams.getMessage(streams.BILLING.name, { last_by_subj: subjects.billingUsage('globex') }))!.data);
    expect(first.envelope?.id).toMatch(/^usage-r\d+$/);
    expect(first.payload?.$case === 'billableUsage' && first.payload.billableUsage.recordedUnixMs).toBe(T);

    const metrics = await registry.getSingleMetricAsString('switchyard_metering_requests_completed_total');
    expect(metrics).toContain('switchyard_metering_requests_completed_total{tier="realtime"} 15');
    expect(metrics).toContain('switchyard_metering_requests_completed_total{tier="batch"} 5');
    expect(await registry.getSingleMetricAsString('switchyard_metering_ttft_ms')).toContain('switchyard_metering_ttft_ms_count{tier="realtime"} 15');
  });

  it('counts admissions, outcomes per tier and policy checks for the service metrics', async () => {
    const js = jetstream(nc);
    const spec = {
      requestId: 'm1',
      tenant: 'acme',
      tier: Tier.TIER_INTERNAL,
      model: 'm',
      prompt: '',
      promptTokens: 1,
      maxTokens: 1,
      feature: '',
      seed: 0,
      inbox: '',
      relayInbox: '',
      replacedFrom: '',
      prefixHashes: [],
      prefixBlockTokens: 0,
      traceparent: '',
      stop: [],
      deadlineUnixMs: 0,
      admittedUnixMs: 0,
    };
    await publishEvent(
      js,
      subjects.requestAdmitted('internal', 'acme'),
      makeEvent({ id: 'adm-m1', tenant: 'acme', requestId: 'm1', nowMs: T }, { $case: 'requestAdmitted', requestAdmitted: { request: spec } }),
    );
    await waitFor('admission counted', async () =>
      (await registry.getSingleMetricAsString('switchyard_metering_requests_admitted_total')).includes('tier="internal"} 1') ? true : undefined,
    );
    await publishTerminal(
      js,
      terminalOf({ requestId: 'm1', tenant: 'acme', outcome: Outcome.OUTCOME_REJECTED, reason: 'no capacity', tier: Tier.TIER_INTERNAL }),
      T,
    );
    await publishEvent(
      js,
      subjects.decision('policy', 'acme'),
      makeEvent(
        { id: 'dec-1', tenant: 'acme', requestId: 'm2', nowMs: T },
        {
          $case: 'decision',
          decision: {
            service: 'policy',
            action: 'block',
            reason: '',
            chosen: '',
            candidates: [],
            categories: [],
            ruleIds: [],
            policyVersion: '',
            latencyMs: 1,
            user: '',
          },
        },
      ),
    );
    await waitFor('outcome and policy counted', async () => {
      const terminated = await registry.getSingleMetricAsString('switchyard_metering_requests_terminated_total');
      const policy = await registry.getSingleMetricAsString('switchyard_metering_policy_checks_total');
      return terminated.includes('tier="internal",outcome="rejected"} 1') && policy.includes('action="block"} 1') ? true : undefined;
    });
  });
});

describe('metering replicas', () => {
  it('count per-tier completions and rejections right with two replicas, whichever saw the admission', async () => {
    const replicas: { metering: Metering; registry: Registry; nc: NatsConnection }[] = [];
    for (const name of ['a', 'b']) {
      const rnc = await connectBus({ url: nats.url, name: `metering-${name}` });
      const rregistry = new Registry();
      const m = createMetering({ nc: rnc, js: jetstream(rnc), sql, logger: createLogger({ service: 'metering', level: 'silent' }), registry: rregistry });
      await m.start();
      replicas.push({ metering: m, registry: rregistry, nc: rnc });
    }
    const registries = [registry, ...replicas.map((r) => r.registry)];
    /** A counter summed over every replica, by its labels. */
    const counted = async (name: string) => {
      const sums = new Map<string, number>();
      const perReplica: number[] = [];
      for (const r of registries) {
        const values = (await r.getSingleMetric(name)?.get())?.values ?? [];
        perReplica.push(values.reduce((s, v) => s + v.value, 0));
        for (const v of values) {
          const key = Object.entries(v.labels)
            .map(([k, x]) => `${k}=${x}`)
            .join(',');
          sums.set(key, (sums.get(key) ?? 0) + v.value);
        }
      }
      return { sums, perReplica };
    };
    const before = await counted('switchyard_metering_requests_terminated_total');
    const beforeAdmitted = await counted('switchyard_metering_requests_admitted_total');

    const js = jetstream(nc);
    // 20 realtime (15 completed, 5 rejected) and 20 batch (8 completed, 12 rejected).
    const plan = Array.from({ length: 40 }, (_, i) => {
      const realtime = i < 20;
      const j = realtime ? i : i - 20;
      return { requestId: `rep-${i}`, tier: realtime ? Tier.TIER_REALTIME : Tier.TIER_BATCH, completed: realtime ? j < 15 : j < 8 };
    });
    for (const p of plan) {
      const spec = {
        requestId: p.requestId,
        tenant: 'acme',
        tier: p.tier,
        model: 'chat-large',
        prompt: '',
        promptTokens: 1,
        maxTokens: 1,
        feature: 'chat',
        seed: 0,
        inbox: '',
        relayInbox: '',
        replacedFrom: '',
        prefixHashes: [],
        prefixBlockTokens: 0,
        traceparent: '',
        stop: [],
        deadlineUnixMs: 0,
        admittedUnixMs: 0,
      };
      await publishEvent(
        js,
        subjects.requestAdmitted(p.tier === Tier.TIER_REALTIME ? 'realtime' : 'batch', 'acme'),
        makeEvent(
          { id: `adm-${p.requestId}`, tenant: 'acme', requestId: p.requestId, nowMs: T },
          { $case: 'requestAdmitted', requestAdmitted: { request: spec } },
        ),
      );
    }
    for (const p of plan) {
      const outcome = p.completed ? Outcome.OUTCOME_COMPLETED : Outcome.OUTCOME_REJECTED;
      await publishTerminal(
        js,
        terminalOf({ requestId: p.requestId, tenant: 'acme', outcome, reason: '', tier: p.tier, model: p.completed ? 'llama-3.1-70b' : '', feature: 'chat' }),
        T,
      );
    }
    const delta = (after: Map<string, number>, was: Map<string, number>, key: string) => (after.get(key) ?? 0) - (was.get(key) ?? 0);
    const terminated = await waitFor('every outcome counted once across the replicas', async () => {
      const now = await counted('switchyard_metering_requests_terminated_total');
      const total = [...now.sums.values()].reduce((a, b) => a + b, 0) - [...before.sums.values()].reduce((a, b) => a + b, 0);
      return total === 40 ? now : undefined;
    });
    const admitted = await waitFor('every admission counted', async () => {
      const now = await counted('switchyard_metering_requests_admitted_total');
      return delta(now.sums, beforeAdmitted.sums, 'tier=realtime') === 20 && delta(now.sums, beforeAdmitted.sums, 'tier=batch') === 20 ? now : undefined;
    });
    const rate = (tier: string, outcome: string) =>
      delta(terminated.sums, before.sums, `tier=${tier},outcome=${outcome}`) / delta(admitted.sums, beforeAdmitted.sums, `tier=${tier}`);
    expect(rate('realtime', 'completed')).toBe(0.75);
    expect(rate('realtime', 'rejected')).toBe(0.25);
    expect(rate('batch', 'completed')).toBe(0.4);
    expect(rate('batch', 'rejected')).toBe(0.6);
    expect([...terminated.sums.keys()].filter((k) => /unknown|unspecified/.test(k))).toEqual([]);
    // The replicas shared the work: more than one of them counted outcomes.
    expect(terminated.perReplica.map((n, i) => n - before.perReplica[i]!).filter((n) => n > 0).length).toBeGreaterThan(1);

    for (const r of replicas) {
      await r.metering.stop();
      await r.nc.close();
    }
  });
});
