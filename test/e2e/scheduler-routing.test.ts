import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { openBucket } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import {
  OpsServiceClient,
  PoolHealth,
  Tier,
  buckets,
  subjects,
  type ListPoolsResponse,
  type ListRoutesResponse,
  type PoolStatus,
  type SetRouteWeightsResponse,
} from '@switchyard/contracts';
import { defaultScheduling, readRoutes, startOpsServer, type OpsServer } from '@switchyard/scheduler';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { createLogger } from '@switchyard/telemetry';
import { waitFor, testPool } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

const pool = (id: string, over: Partial<PoolSpec>): PoolSpec => testPool({ id, slotsPerWorker: 16, ...over });
const POOLS = [
  pool('eu-8b', {}),
  pool('us-8b-v2', { provider: 'gcp', region: 'us-central1', gpu: 'h200-141gb', version: 'llama-3.1-8b-v2', pricePerGpuHour: 3.5 }),
  pool('eu-1b', { model: 'llama-3.2-1b', capacityClass: 'spot', pricePerGpuHour: 2 }),
];
const scheduling = defaultScheduling({
  routes: {
    'chat-large': {
      versions: [
        { version: 'llama-3.1-8b', weight: 80 },
        { version: 'llama-3.1-8b-v2', weight: 20 },
      ],
      canary: { version: 'llama-3.1-8b-v2' },
    },
    'chat-small': { versions: [{ version: 'llama-3.2-1b', weight: 1 }] },
    auto: { auto: { small: 'chat-small', large: 'chat-large' } },
  },
  canary: { minRequests: 20, maxErrorRateDelta: 0.05 },
});

let system: RunningSystem;
let client: SwitchyardClient;

beforeAll(async () => {
  system = await startSystem({ pools: POOLS, scheduling, workerFaults: true });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);
afterAll(async () => {
  client?.close();
  await system?.stop();
});

/** Scheduler decisions about one request, from DECISIONS. */
async function decisionsOf(requestId: string) {
  return (await readStream(system.nc, 'DECISIONS'))
    .filter(({ subject, event }) => subject.startsWith('decisions.scheduler.') && event.envelope?.requestId === requestId)
    .map(({ event }) => (event.payload?.$case === 'decision' ? event.payload.decision : undefined)!);
}

/** Runs `n` requests, `parallel` at a time; returns the pool each was placed on (or its error). */
async function run(n: number, model: string, parallel = 16): Promise<Array<{ pool?: string; error?: string }>> {
  const done: Array<{ requestId?: string; error?: string }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        done.push(
          await client.complete({ model, prompt: `question ${i}`, maxTokens: 4, tier: Tier.TIER_REALTIME }).then(
            (r) => ({ requestId: r.requestId }),
            (e: ServiceError) => ({ error: e.details }),
          ),
        );
      }
    }),
  );
  const chosen = new Map<string, string>();
  for (const { subject, event } of await readStream(system.nc, 'DECISIONS')) {
    if (subject.startsWith('decisions.scheduler.') && event.payload?.$case === 'decision' && event.payload.decision.action === 'place')
      chosen.set(event.envelope!.requestId, event.payload.decision.chosen);
  }
  return done.map((d) => (d.requestId ? { pool: chosen.get(d.requestId) } : { error: d.error }));
}

describe('scheduler: routes, explained placement, canary rollback', () => {
  it('auto sends a short prompt to the small model and the decision lists candidates, scores and why', async () => {
    const r = await client.complete({ model: 'auto', prompt: 'hi there', maxTokens: 8 });
    const [placed] = await decisionsOf(r.requestId);
    expect(placed).toMatchObject({ service: 'scheduler', action: 'place', chosen: 'eu-1b' });
    expect(placed!.reason).toMatch(/^auto -> chat-small \(short request.*chat-small -> llama-3.2-1b \(100% of traffic\); best of two/);
    expect(placed!.candidates).toEqual([expect.objectContaining({ id: 'eu-1b', reason: expect.stringMatching(/^chosen: ttft \d+ ms/) })]);
    expect(placed!.candidates[0]!.score).toBeGreaterThan(0);
  });

  it('a healthy canary keeps its share; at a 20% injected error rate it is rolled back and the event names the reason', async () => {
    const healthy = await run(60, 'chat-large');
    expect(healthy.every((r) => r.pool)).toBe(true);
    expect(healthy.filter((r) => r.pool === 'us-8b-v2').length).toBeGreaterThan(0);
    expect((await readRoutes(await openBucket(system.nc, buckets.routes))).get('chat-large')!.route.canary?.status).toBe('running');

    system.nc.publish(subjects.workerControl('us-8b-v2'), JSON.stringify({ kind: 'error-rate', fraction: 0.2 }));
    await system.nc.flush();
    const routes = await openBucket(system.nc, buckets.routes);
    let sent = 0;
    const rolled = await waitFor(
      'canary rollback',
      async () => {
        const { route } = (await readRoutes(routes)).get('chat-large')!;
        if (route.canary?.status === 'rolled-back') return route;
        if (sent < 1_000) sent += (await run(40, 'chat-large')).length;
        return undefined;
      },
      60_000,
    );
    expect(rolled.canary!.reason).toMatch(/^error rate \d+\.\d% \(\d+ of \d+\) vs baseline 0\.0%/);
    expect(rolled.versions).toContainEqual({ version: 'llama-3.1-8b-v2', weight: 0 });

    const events = (await readStream(system.nc, 'DECISIONS')).filter(({ subject }) => subject === 'decisions.routes.chat-large');
    expect(events).toHaveLength(1);
    const decision = events[0]!.event.payload?.$case === 'decision' ? events[0]!.event.payload.decision : undefined;
    expect(decision).toMatchObject({ action: 'canary-rollback', chosen: 'llama-3.1-8b' });
    expect(decision!.reason).toContain('route chat-large: canary llama-3.1-8b-v2 rolled back: error rate');
    expect(decision!.candidates.map((c) => c.id)).toEqual(['llama-3.1-8b-v2', 'llama-3.1-8b']);

    await new Promise((r) => setTimeout(r, 300));
    const after = await run(30, 'chat-large');
    expect(after.every((r) => r.pool === 'eu-8b')).toBe(true);
  }, 90_000);
});

describe('scheduler: Ops API', () => {
  let ops: OpsServer;
  let opsClient: OpsServiceClient;
  const operatorKey = generateApiKey();
  const call = <Res>(method: string, request: object, key = operatorKey): Promise<Res> => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${key}`);
    return new Promise((resolve, reject) =>
      (opsClient as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: Res) => void) => void>)[method]!(request, md, (e, v) =>
        e ? reject(e) : resolve(v),
      ),
    );
  };

  beforeAll(async () => {
    const keyring = createKeyring([
      { tenant: 'ops', keyId: 'ops-1', keyHash: hashApiKey(operatorKey), operator: true },
      { tenant: 'acme', keyId: 'acme-1', keyHash: hashApiKey(system.apiKey), operator: false },
    ]);
    ops = await startOpsServer(
      '127.0.0.1:0',
      () => system.scheduler.ops,
      system.scheduler.operatorActions,
      keyring,
      createLogger({ service: 'ops', level: 'silent' }),
    );
    opsClient = new OpsServiceClient(ops.address, credentials.createInsecure());
  });
  afterAll(async () => {
    opsClient?.close();
    await ops?.stop();
  });

  it('lists pools with live state and refuses non-operator keys', async () => {
    const { pools } = await call<ListPoolsResponse>('listPools', {});
    expect(pools.map((p: PoolStatus) => [p.id, p.health, p.healthyWorkers])).toEqual([
      ['eu-8b', PoolHealth.POOL_HEALTH_HEALTHY, 1],
      ['us-8b-v2', PoolHealth.POOL_HEALTH_HEALTHY, 1],
      ['eu-1b', PoolHealth.POOL_HEALTH_HEALTHY, 1],
    ]);
    expect(pools[1]).toMatchObject({ version: 'llama-3.1-8b-v2', region: 'us-central1', provider: 'gcp' });
    await expect(call('listPools', {}, system.apiKey)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('drain stops new placements at once (with the reason); undrain brings the pool back', async () => {
    const { pool } = await call<{ pool: PoolStatus }>('drainPool', { pool: 'eu-1b', reason: 'driver upgrade' });
    expect(pool).toMatchObject({ health: PoolHealth.POOL_HEALTH_DRAINED, drainReason: 'driver upgrade' });
    const refused = await client.complete({ model: 'chat-small', prompt: 'hello', maxTokens: 4 }).catch((e: ServiceError) => e);
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect((refused as ServiceError).details).toContain('eu-1b: drained by an operator');
    await call('undrainPool', { pool: 'eu-1b' });
    expect((await client.complete({ model: 'chat-small', prompt: 'hello', maxTokens: 4 })).usage?.outputTokens).toBe(4);
  });

  it('sets route weights (validated) and starts a canary', async () => {
    const { route } = await call<SetRouteWeightsResponse>('setRouteWeights', {
      alias: 'chat-small',
      versions: [
        { version: 'llama-3.2-1b', weight: 90 },
        { version: 'llama-3.1-8b', weight: 10 },
      ],
      canaryVersion: 'llama-3.1-8b',
    });
    expect(route).toMatchObject({ alias: 'chat-small', canary: { version: 'llama-3.1-8b', status: 'running' } });
    const { routes } = await call<ListRoutesResponse>('listRoutes', {});
    expect(routes.find((r) => r.alias === 'chat-small')!.versions).toEqual([
      { version: 'llama-3.2-1b', weight: 90 },
      { version: 'llama-3.1-8b', weight: 10 },
    ]);
    await expect(call('setRouteWeights', { alias: 'chat-small', versions: [{ version: 'gpt-9', weight: 1 }] })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
    });
  });
});
