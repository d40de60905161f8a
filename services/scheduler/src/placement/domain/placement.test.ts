import type { PoolSpec } from '@switchyard/config';
import type { WorkerHeartbeat } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { defaultScheduling, type PolicyName } from '../../config.js';
import { createLoadTracker, type LoadTracker } from './load-tracker.js';
import { SAMPLE_SIZE, placeRequest, type FleetView, type PlacementContext, type PlacementRequest } from './placement.js';
import { poolStates } from './pool-state.js';
import type { StepModel } from './scoring.js';
import { testPool } from '@switchyard/testing';

const pool = (id: string, over: Partial<PoolSpec> = {}): PoolSpec => testPool({ id, region: 'us-east-1', slotsPerWorker: 8, ...over });
const beat = (poolId: string, atUnixMs = 10_000, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  pool: poolId,
  worker: `${poolId}-w0`,
  running: 0,
  waiting: 0,
  freeSlots: 8,
  kvUsed: 0,
  stepMs: 10,
  ttftMs: 50,
  draining: false,
  atUnixMs,
  ...over,
});
/** Roughly an 8B model on an H100: ~8 ms decode steps, ~30 ms per 1k prompt tokens. */
const model: StepModel = { decodeMs: (b, ctx) => 7.5 + 0.03 * b + (0.0005 * b * ctx) / 16, prefillMs: (t) => 6 + 0.025 * t };
const request = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  tenant: 'acme',
  tier: 'realtime',
  version: 'llama-3.1-8b',
  promptTokens: 500,
  maxTokens: 100,
  ageMs: 5,
  ...over,
});

function world(pools: PoolSpec[], beats: WorkerHeartbeat[], tracker: LoadTracker = createLoadTracker(), drained: string[] = []): FleetView {
  return {
    pools,
    models: new Map(pools.map((p) => [p.id, model])),
    states: poolStates(beats, 10_000, { staleMs: 3_000 }),
    outstanding: tracker.of,
    drained: new Set(drained),
  };
}
function context(policy: PolicyName = 'switchyard', draws: number[] = [0.1, 0.6, 0.3, 0.9], config = defaultScheduling()): PlacementContext {
  let i = 0;
  let turn = 0;
  return { config, policy, random: () => draws[i++ % draws.length]!, turn: () => turn++ };
}
/** Fills `pool` with `n` outstanding requests of `tier` of `tenant` (the one `request` places by default). */
const load = (tracker: LoadTracker, poolId: string, n: number, tier: 'realtime' | 'internal' | 'batch' = 'realtime', tenant = 'acme') => {
  for (let i = 0; i < n; i++) tracker.dispatched(`${poolId}-${tier}-${tenant}-${i}`, poolId, tier, 1_000, 300, 0, 0, tenant);
};

describe('filtering', () => {
  it('skips pools whose heartbeat is stale, draining or hung, and says why', () => {
    const pools = [pool('a'), pool('b'), pool('c'), pool('d')];
    const beats = [beat('a', 1_000), beat('b'), beat('c', 10_000, { draining: true }), beat('d', 10_000, { stepMs: 60_000 })];
    const p = placeRequest(request(), world(pools, beats), context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'b' });
    expect(p.candidates.map((c) => [c.id, c.reason.split(':')[0]])).toEqual([
      ['a', 'no healthy worker'],
      ['b', 'chosen'],
      ['c', 'no healthy worker'],
      ['d', 'no healthy worker'],
    ]);
  });

  it('rejects an unknown model naming the versions that exist', () => {
    const p = placeRequest(request({ version: 'gpt-9' }), world([pool('a'), pool('b', { model: 'llama-3.2-1b' })], []), context());
    expect(p).toMatchObject({ kind: 'reject', retryAfterMs: 0 });
    expect(p.reason).toContain('llama-3.1-8b, llama-3.2-1b');
  });

  it('waits, rather than rejects, when the model exists but no worker is up yet', () => {
    expect(placeRequest(request(), world([pool('a')], []), context())).toMatchObject({ kind: 'wait', waitFor: 'health' });
  });

  it('rejects a tier no pool of the model accepts', () => {
    const p = placeRequest(request(), world([pool('a', { tiers: ['batch'] })], [beat('a')]), context());
    expect(p).toMatchObject({ kind: 'reject' });
    expect(p.reason).toContain('tier realtime not allowed');
  });

  it('keeps a tenant inside its residency regions', () => {
    const config = defaultScheduling({ tenants: { acme: { regions: ['eu-west-1'] } } });
    const pools = [pool('us', { pricePerGpuHour: 1 }), pool('eu', { region: 'eu-west-1', pricePerGpuHour: 9 })];
    const fleet = world(pools, [beat('us'), beat('eu')]);
    for (let i = 0; i < 5; i++) expect(placeRequest(request(), fleet, context('switchyard', [Math.random()], config))).toMatchObject({ pool: 'eu' });
    expect(placeRequest(request({ tenant: 'globex' }), fleet, context('switchyard', [0.5], config))).toMatchObject({ pool: 'us' });
  });

  it('leaves out drained pools and the pool a request fails over from', () => {
    const pools = [pool('a'), pool('b'), pool('c')];
    const beats = [beat('a'), beat('b'), beat('c')];
    const fleet = { ...world(pools, beats, createLoadTracker(), ['a']), exclude: new Set(['b']) };
    const p = placeRequest(request(), fleet, context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'c' });
    expect(p.candidates.find((c) => c.id === 'a')!.reason).toBe('drained by an operator');
  });
});

describe('switchyard policy', () => {
  it('prefers the cheaper pool while both meet the objective, and the faster once the cheap one queues', () => {
    const tracker = createLoadTracker();
    const pools = [pool('cheap', { pricePerGpuHour: 2, capacityClass: 'spot' }), pool('dear', { pricePerGpuHour: 6 })];
    const fleet = world(pools, [beat('cheap'), beat('dear')], tracker);
    expect(placeRequest(request({ tier: 'internal' }), fleet, context())).toMatchObject({ pool: 'cheap' });
    load(tracker, 'cheap', 40);
    const p = placeRequest(request(), fleet, context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'dear' });
    expect(p.candidates.find((c) => c.id === 'cheap')!.reason).toMatch(/queue [1-9]/);
  });

  it('sheds realtime at once, with a reason and a retry delay, when no pool can meet its deadline', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 60);
    const p = placeRequest(request(), world([pool('a')], [beat('a')], tracker), context());
    expect(p.kind).toBe('reject');
    if (p.kind !== 'reject') return;
    expect(p.reason).toMatch(/load shed: no pool can meet the realtime TTFT objective of 1000 ms \(best a: \d+ ms\)/);
    expect(p.retryAfterMs).toBeGreaterThanOrEqual(1_000);
  });

  it('sheds a realtime request that already spent its budget upstream', () => {
    const p = placeRequest(request({ ageMs: 1_500 }), world([pool('a')], [beat('a')]), context());
    expect(p.kind).toBe('reject');
  });

  it('queues internal work past its objective instead of shedding it', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 200, 'internal');
    const p = placeRequest(request({ tier: 'internal' }), world([pool('a')], [beat('a')], tracker), context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'a' });
    expect(p.kind === 'placed' && p.reason).toContain('queued on the fastest');
  });

  it('realtime jumps the batch queue: batch backlog alone does not shed realtime', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 200, 'batch');
    expect(placeRequest(request(), world([pool('a')], [beat('a')], tracker), context())).toMatchObject({ kind: 'placed' });
  });

  it('holds batch work for idle capacity, then queues it after its longest wait', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 8, 'internal');
    const fleet = world([pool('a')], [beat('a')], tracker);
    expect(placeRequest(request({ tier: 'batch' }), fleet, context())).toMatchObject({ kind: 'wait', waitFor: 'capacity' });
    expect(placeRequest(request({ tier: 'batch', ageMs: 700_000 }), fleet, context())).toMatchObject({ kind: 'placed', pool: 'a' });
    tracker.ended('a-internal-acme-0');
    expect(placeRequest(request({ tier: 'batch' }), fleet, context())).toMatchObject({ kind: 'placed', pool: 'a' });
  });

  it("sheds a tenant's flood but not another tenant's realtime request: the batcher serves tenants in turns", () => {
    const tracker = createLoadTracker();
    const chat = (id: string, tenant: string) => tracker.dispatched(id, 'a', 'realtime', 100, 32, 0, 0, tenant);
    for (let i = 0; i < 200; i++) chat(`flood-${i}`, 'flooder');
    for (let i = 0; i < 2; i++) chat(`steady-${i}`, 'steady');
    const fleet = world([pool('a')], [beat('a', 10_000, { running: 8, freeSlots: 0 })], tracker);
    const chatRequest = (tenant: string) => request({ tenant, promptTokens: 100, maxTokens: 32 });
    expect(placeRequest(chatRequest('flooder'), fleet, context())).toMatchObject({ kind: 'reject' });
    const steady = placeRequest(chatRequest('steady'), fleet, context());
    expect(steady).toMatchObject({ kind: 'placed', pool: 'a' });
    // Its own two run within its fair share of the slots, so it waits for the slots and one turn of the flood's.
    expect(steady.kind === 'placed' && steady.prediction!.ttftMs).toBeLessThan(1_000);
    // A tenant not seen before is as far ahead as one sending at its usual rate.
    expect(placeRequest(chatRequest('new'), fleet, context())).toMatchObject({ kind: 'placed', pool: 'a' });
  });

  it('never sheds a request it must re-place (failover)', () => {
    const p = placeRequest(request({ ageMs: 5_000, mustPlace: true }), world([pool('a')], [beat('a')]), context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'a' });
  });

  it('uses a tenant reservation first and spills over to shared pools when it is saturated', () => {
    const tracker = createLoadTracker();
    const pools = [pool('shared', { pricePerGpuHour: 2 }), pool('mine', { capacityClass: 'reserved', reservedFor: ['acme'], pricePerGpuHour: 5 })];
    const fleet = world(pools, [beat('shared'), beat('mine')], tracker);
    const first = placeRequest(request(), fleet, context());
    expect(first).toMatchObject({ pool: 'mine' });
    expect(first.kind === 'placed' && first.reason).toContain('tenant reservation');
    // Others may not use it for realtime, but may fill its idle capacity with batch work.
    expect(placeRequest(request({ tenant: 'globex' }), fleet, context())).toMatchObject({ pool: 'shared' });
    expect(placeRequest(request({ tenant: 'globex' }), fleet, context()).candidates.find((c) => c.id === 'mine')!.reason).toBe('reserved for other tenants');
    load(tracker, 'mine', 40);
    expect(placeRequest(request(), fleet, context())).toMatchObject({ pool: 'shared' });
  });

  it('spreads a burst over equal pools instead of herding (power of two + in-flight accounting)', () => {
    const tracker = createLoadTracker();
    const pools = ['a', 'b', 'c'].map((id) => pool(id));
    const fleet = world(
      pools,
      pools.map((p) => beat(p.id)),
      tracker,
    );
    const ctx = { ...context(), random: Math.random };
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const p = placeRequest(request({ tier: 'internal' }), fleet, ctx);
      if (p.kind !== 'placed') throw new Error(p.reason);
      tracker.dispatched(`r${i}`, p.pool, 'internal', 500, 100, 0, 0, 'acme');
      counts.set(p.pool, (counts.get(p.pool) ?? 0) + 1);
    }
    expect([...counts.values()].every((n) => n >= 5)).toBe(true);
  });
});

describe('baselines', () => {
  const pools = ['a', 'b', 'c'].map((id) => pool(id));
  it('round-robin cycles through eligible pools and never sheds', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 500);
    const fleet = world(
      pools,
      pools.map((p) => beat(p.id)),
      tracker,
    );
    const ctx = context('round-robin');
    expect([1, 2, 3, 4].map(() => (placeRequest(request(), fleet, ctx) as { pool: string }).pool)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('least-loaded takes the pool with the fewest outstanding per slot', () => {
    const tracker = createLoadTracker();
    load(tracker, 'a', 5);
    load(tracker, 'c', 2);
    load(tracker, 'b', 3);
    expect(
      placeRequest(
        request(),
        world(
          pools,
          pools.map((p) => beat(p.id)),
          tracker,
        ),
        context('least-loaded'),
      ),
    ).toMatchObject({ pool: 'c' });
  });

  it('random draws uniformly among eligible pools', () => {
    expect(
      placeRequest(
        request(),
        world(
          pools,
          pools.map((p) => beat(p.id)),
        ),
        context('random', [0.7]),
      ),
    ).toMatchObject({ pool: 'c' });
  });
});

describe('switchyard policy: prefill backlog and cost', () => {
  it('sends realtime away from a pool whose engines are busy prefilling a burst of long prompts', () => {
    const tracker = createLoadTracker();
    const pools = [pool('a', { pricePerGpuHour: 2 }), pool('b', { pricePerGpuHour: 3 })];
    for (let i = 0; i < 6; i++) tracker.dispatched(`long-${i}`, 'a', 'internal', 8_000, 50, 10_000, model.prefillMs(8_000));
    const fleet = {
      ...world(pools, [beat('a', 10_000, { running: 6 }), beat('b')], tracker),
      prefillBacklogMs: (p: string) => tracker.prefillBacklog(p, 10_000, 1),
    };
    const p = placeRequest(request(), fleet, context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'b' });
    expect(p.candidates.find((c) => c.id === 'a')!.reason).toMatch(/prefill ahead (1[0-9]{3}|[2-9][0-9]{2})\)/);
    // Once the workers got through it, the cheaper pool is back in favour.
    expect(tracker.prefillBacklog('a', 12_000, 1)).toBe(0);
  });

  it('joins a running batch rather than lighting up an idle GPU of the same price', () => {
    const tracker = createLoadTracker();
    load(tracker, 'busy', 4, 'internal');
    const pools = [pool('idle'), pool('busy')];
    const p = placeRequest(request({ tier: 'internal' }), world(pools, [beat('idle'), beat('busy', 10_000, { running: 4 })], tracker), context());
    expect(p).toMatchObject({ kind: 'placed', pool: 'busy' });
  });
});

describe('large fleets', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => pool(`p${i}`));
  const draws = Array.from({ length: 97 }, (_, i) => (i * 0.618034) % 1);

  it('examines a bounded random sample of pools, and says so', () => {
    const pools = many(200);
    const p = placeRequest(
      request(),
      world(
        pools,
        pools.map((x) => beat(x.id)),
      ),
      context('switchyard', draws),
    );
    expect(p.kind).toBe('placed');
    expect(p.candidates.length).toBe(SAMPLE_SIZE);
    expect(p.reason).toContain(`${SAMPLE_SIZE} of 200 pools sampled`);
  });

  it('falls back to every pool when the sample holds none that can take the request', () => {
    const pools = many(200);
    // Only one pool in 200 has a live worker: a sample of 16 almost never contains it.
    const p = placeRequest(request(), world(pools, [beat('p137')]), context('switchyard', draws));
    expect(p).toMatchObject({ kind: 'placed', pool: 'p137' });
    expect(p.candidates.length).toBe(200);
  });
});
