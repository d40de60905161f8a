import type { PoolSpec } from '@switchyard/config';
import { PoolHealth, Tier, decodeEvent, subjects } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor, testPool } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admittedRequests, readStream, terminalsByRequest } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

const pool = (id: string, over: Partial<PoolSpec>): PoolSpec => testPool({ id, slotsPerWorker: 4, ...over });
/**
 * eu-west-1, the region that goes dark, has two providers: a cheap spot pool that takes part of
 * the realtime traffic, and a pool running a regional build (version llama-3.1-8b-eu) that a
 * burst of internal work is pinned to, so the region certainly holds queued, unstarted requests
 * when it dies. us-east-1 is big enough for the realtime load alone.
 */
const POOLS = [
  pool('eu-aws-h100', { capacityClass: 'spot', pricePerGpuHour: 2 }),
  pool('eu-gcp-h200', { provider: 'gcp', gpu: 'h200-141gb', version: 'llama-3.1-8b-eu', slotsPerWorker: 8 }),
  pool('us-aws-h100', { region: 'us-east-1', workers: 2, slotsPerWorker: 8, pricePerGpuHour: 4.5 }),
];
const EU = POOLS.filter((p) => p.region === 'eu-west-1').map((p) => p.id);
const SLO_MS = 1_000;

let system: RunningSystem;
beforeAll(async () => {
  // The burst must reach the region before it goes dark, not wait its turn in admission's pacing.
  system = await startSystem({ pools: POOLS, workerSpeed: 1, workerFaults: true, inFlightPerTenant: { internal: 256 } });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

interface Shot {
  readonly sentAt: number;
  requestId?: string;
  ttftMs?: number;
  outcome?: string;
}

describe('chaos: a whole region goes dark under realtime load', () => {
  it('its pools are out within 3 s, unstarted requests move to the other region and finish there, nothing is lost', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const shots: Shot[] = [];
    let stop = false;
    const loop = async (i: number) => {
      for (let n = 0; !stop; n++) {
        const shot: Shot = { sentAt: Date.now() };
        shots.push(shot);
        try {
          for await (const { event } of client.generate({
            model: 'llama-3.1-8b',
            prompt: `user ${i} turn ${n}`,
            maxTokens: 64,
            tier: Tier.TIER_REALTIME,
            timeoutMs: 60_000,
          })) {
            if (event?.$case === 'started') shot.requestId = event.started.requestId;
            if (event?.$case === 'chunk' && shot.ttftMs === undefined) shot.ttftMs = Date.now() - shot.sentAt;
            if (event?.$case === 'finished') shot.outcome = 'completed';
          }
        } catch (e) {
          shot.outcome = (e as { details?: string }).details ?? String(e);
        }
      }
    };
    // Placements as the scheduler announces them, live (the asserts below read them back from DECISIONS).
    const placed: Array<{ at: number; chosen: string }> = [];
    const decisionFeed = system.nc.subscribe(subjects.decision('scheduler', 'acme'), {
      callback: (_e, msg) => {
        const event = decodeEvent(msg.data);
        if (event.payload?.$case === 'decision' && event.payload.decision.action === 'place')
          placed.push({ at: Date.now(), chosen: event.payload.decision.chosen });
      },
    });
    const load = Promise.all(Array.from({ length: 14 }, (_, i) => loop(i)));

    // Warm: the 14 users have had two answers each on average before anything else happens.
    await waitFor('realtime load flowing', () => (shots.filter((s) => s.outcome === 'completed').length >= 28 ? true : undefined), 20_000);
    const burstSentAt = Date.now();
    let burstDone = false;
    const burst = Promise.all(
      Array.from({ length: 48 }, (_, i) =>
        client
          .complete({ model: 'llama-3.1-8b-eu', prompt: `report ${i}`, maxTokens: 50, tier: Tier.TIER_INTERNAL, timeoutMs: 60_000 })
          .then((r) => r.requestId),
      ),
    ).finally(() => (burstDone = true));
    // The whole burst is on the regional pool (8 slots for 48 requests): the region holds queued, unstarted work.
    await waitFor(
      'the burst placed on eu-gcp-h200',
      () => (placed.filter((p) => p.at >= burstSentAt && p.chosen === 'eu-gcp-h200').length >= 48 ? true : undefined),
      15_000,
    );
    const killedAt = Date.now();
    for (const id of EU) system.nc.publish(subjects.workerControl(id), JSON.stringify({ kind: 'crash' }));
    await system.nc.flush();
    // Conditions with deadlines rather than a fixed run: the burst finishes elsewhere, and the
    // realtime load has had plenty of placements after the region must be out (3 s).
    await waitFor('the burst finished after the move', () => (burstDone ? true : undefined), 60_000);
    await waitFor('40 placements after the region is out', () => (placed.filter((p) => p.at >= killedAt + 3_000).length >= 40 ? true : undefined), 30_000);
    stop = true;
    await load;
    decisionFeed.unsubscribe();
    const burstIds = await burst;
    client.close();

    // Nothing lost: every admitted request ends exactly once, and none failed or expired.
    const admitted = await admittedRequests(system.nc);
    const terminals = await waitFor(
      'a terminal event for every admitted request',
      async () => {
        const t = await terminalsByRequest(system.nc);
        return admitted.every((id) => t.has(id)) ? t : undefined;
      },
      30_000,
    );
    expect(admitted.every((id) => terminals.get(id)!.length === 1)).toBe(true);
    const outcomes = countBy(admitted.map((id) => terminals.get(id)![0]!));
    expect(Object.keys(outcomes).filter((o) => o !== 'completed' && o !== 'rejected')).toEqual([]);

    // The dead pools' unfinished work moved to the other region, counted by where it was found.
    const moved = system.scheduler.failoverCounts();
    console.log(`failover: moved ${JSON.stringify(moved)}; outcomes ${JSON.stringify(outcomes)}`);
    const decisions = (await readStream(system.nc, 'DECISIONS')).flatMap(({ event }) =>
      event.payload?.$case === 'decision' && event.envelope!.tenant === 'acme'
        ? [{ at: event.envelope!.timeUnixMs, requestId: event.envelope!.requestId, ...event.payload.decision }]
        : [],
    );
    expect(moved.queued + moved.batched).toBeGreaterThan(0);
    const failovers = decisions.filter((d) => d.action === 'failover');
    expect(failovers.length).toBe(moved.queued + moved.batched);
    expect(failovers.every((d) => d.chosen === 'us-aws-h100' && /^pool eu-\w+-h\d+ stopped heartbeating \(request (queued|batched)\)/.test(d.reason))).toBe(
      true,
    );
    const movedIds = new Set(failovers.map((d) => d.requestId));
    expect([...movedIds].every((id) => terminals.get(id)?.[0] === 'completed')).toBe(true);
    expect(burstIds.filter((id) => movedIds.has(id)).length).toBeGreaterThanOrEqual(24);

    // Out within 3 s: no placement on the dark region after that.
    const late = decisions.filter((d) => d.action === 'place' && d.at >= killedAt + 3_000);
    expect(late.length).toBeGreaterThan(20);
    expect(late.filter((d) => EU.includes(d.chosen))).toEqual([]);

    // Realtime attainment (first token within 1 s, completed) by arrival second after the kill:
    // printed for the record, not asserted (speed targets belong in bench/; this machine may be loaded).
    const attained = (s: Shot) => s.outcome === 'completed' && s.ttftMs !== undefined && s.ttftMs <= SLO_MS;
    const window = (from: number, to: number) => shots.filter((s) => s.sentAt >= killedAt + from && s.sentAt < killedAt + to);
    const rate = (xs: Shot[]) => (xs.length ? xs.filter(attained).length / xs.length : 1);
    const seconds = Math.ceil((Math.max(...shots.map((s) => s.sentAt)) - killedAt) / 1_000);
    const bySecond = Array.from({ length: seconds }, (_, i) => `${i}s ${(rate(window(i * 1_000, (i + 1) * 1_000)) * 100).toFixed(0)}%`);
    console.log(`failover: realtime attainment by second after the kill: ${bySecond.join(', ')}`);
    const before = shots.filter((s) => s.sentAt < burstSentAt);
    console.log(`failover: realtime attainment before the burst and the kill ${(rate(before) * 100).toFixed(0)}% (${before.length} requests)`);
    const recovered = window(5_000, Number.POSITIVE_INFINITY);
    console.log(`failover: realtime attainment from 5 s after the kill ${(rate(recovered) * 100).toFixed(0)}% (${recovered.length} requests)`);

    // The region comes back: its pools are healthy again and take new work.
    for (const id of EU) system.nc.publish(subjects.workerControl(id), JSON.stringify({ kind: 'clear' }));
    await waitFor('the region back', () => (system.scheduler.ops.listPools().every((p) => p.health === PoolHealth.POOL_HEALTH_HEALTHY) ? true : undefined));
  }, 120_000);
});

function countBy(values: string[]): Record<string, number> {
  return values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
}
