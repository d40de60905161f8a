import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { jetstream } from '@switchyard/bus';
import { formatAudit, readAudit } from '@switchyard/cli';
import { BillingServiceClient, OpsServiceClient, PoolHealth, type PoolStatus } from '@switchyard/contracts';
import { startOpsServer, type OpsServer } from '@switchyard/scheduler';
import { createLogger } from '@switchyard/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';

/**
 * Issue #20: every operator action is an AUDIT event, written by the service that carried it
 * out once the change committed, and a refused attempt by a key that is not an operator's is
 * recorded too. Driven through the real RPCs (the scheduler's Ops API, billing's SetBudget)
 * and read back the way `switchyard audit` reads it.
 */
let system: RunningSystem;
let ops: OpsServer;
let client: OpsServiceClient;
const startedMs = Date.now() - 1_000;
const pool = TEST_POOLS[0]!.id;

const call = <Res>(method: 'drainPool' | 'undrainPool', request: object, key: string): Promise<Res> => {
  const md = new Metadata();
  md.set('authorization', `Bearer ${key}`);
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: Res) => void) => void>)[method]!(request, md, (e, v) =>
      e ? reject(e) : resolve(v),
    ),
  );
};

beforeAll(async () => {
  system = await startSystem();
  ops = await startOpsServer(
    '127.0.0.1:0',
    () => system.scheduler.ops,
    system.scheduler.operatorActions,
    system.tenants.keyring,
    createLogger({ service: 'ops', level: 'silent' }),
  );
  client = new OpsServiceClient(ops.address, credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  await ops?.stop();
  await system?.stop();
});

describe('audit trail', () => {
  it('records drains, budgets and a refused drain with actor, before/after and outcome; `switchyard audit` lists them', async () => {
    const drained = await call<{ pool: PoolStatus }>('drainPool', { pool, reason: 'driver upgrade' }, system.operatorApiKey);
    expect(drained.pool.health).toBe(PoolHealth.POOL_HEALTH_DRAINED);
    await call('undrainPool', { pool }, system.operatorApiKey);
    await system.setBudget('acme', { hardLimitMicros: 5_000_000 });
    await expect(call('drainPool', { pool, reason: 'not mine to drain' }, system.apiKey)).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringMatching(/operator key/),
    });
    // The refused drain changed nothing.
    expect(system.scheduler.ops.listPools()[0]!.drained).toBe(false);

    const js = jetstream(system.nc);
    const rows = await readAudit(js, { sinceMs: startedMs, untilMs: Date.now() });
    expect(rows.map((r) => [r.action, r.actor, r.actorTenant, r.outcome, r.recordedBy])).toEqual([
      ['drain', 'ops-1', 'ops', 'allowed', 'scheduler'],
      ['undrain', 'ops-1', 'ops', 'allowed', 'scheduler'],
      ['budget-set', 'ops-1', 'ops', 'allowed', 'billing'],
      ['drain', 'acme-1', 'acme', 'denied', 'scheduler'],
    ]);
    const [drain, undrain, budget, denied] = rows;
    expect(drain).toMatchObject({
      target: pool,
      before: { drained: false },
      after: { drained: true, drainReason: 'driver upgrade' },
      reason: 'driver upgrade',
    });
    expect(undrain).toMatchObject({ target: pool, before: { drained: true }, after: { drained: false } });
    expect(budget).toMatchObject({ target: 'acme', before: null, after: { feature: '', hardLimitMicros: 5_000_000 } });
    expect(denied).toMatchObject({ target: pool, after: null, reason: expect.stringMatching(/needs an operator key.*acme-1/) });

    // Filters: by action on the server, by actor here.
    expect((await readAudit(js, { sinceMs: startedMs, untilMs: Date.now(), action: 'drain' })).map((r) => r.outcome)).toEqual(['allowed', 'denied']);
    expect((await readAudit(js, { sinceMs: startedMs, untilMs: Date.now(), actor: 'acme-1' })).map((r) => r.action)).toEqual(['drain']);
    const text = formatAudit(rows, 'table');
    expect(text.split('\n')[0]).toMatch(/^time\s+actor\s+tenant\s+action\s+target\s+outcome\s+before\s+after\s+reason$/);
    expect(text).toMatch(/acme-1\s+acme\s+drain\s+test-eu-h100-8b\s+denied/);
  });

  it('the command itself: `switchyard audit --action drain --actor acme-1 --format ndjson`', async () => {
    const bin = new URL('../../tools/cli/bin/switchyard.js', import.meta.url).pathname;
    const env = { ...process.env, NATS_URL: system.servers.nats.url };
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env });
    const { stdout } = await run('audit', '--since', '5m', '--action', 'drain', '--actor', 'acme-1', '--format', 'ndjson');
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toMatchObject([{ action: 'drain', actor: 'acme-1', outcome: 'denied', target: pool }]);
  });

  it("records a refused budget by a tenant's key, and changes no budget", async () => {
    const billing = new BillingServiceClient(system.billingAddress, credentials.createInsecure());
    const md = new Metadata();
    md.set('authorization', `Bearer ${system.otherApiKey}`);
    const refused = await new Promise<ServiceError | null>((resolve) =>
      billing.setBudget({ tenant: 'acme', feature: '', softLimitMicros: 0, hardLimitMicros: 1 }, md, (e) => resolve(e)),
    );
    billing.close();
    expect(refused).toMatchObject({ code: status.PERMISSION_DENIED });
    const rows = await readAudit(jetstream(system.nc), { sinceMs: startedMs, untilMs: Date.now(), action: 'budget-set' });
    expect(rows.map((r) => [r.actor, r.target, r.outcome, r.reason])).toEqual([
      ['ops-1', 'acme', 'allowed', ''],
      ['globex-1', 'acme', 'denied', 'setting a budget needs an operator key'],
    ]);
    const [budget] = await system.sql<{ hard: string }[]>`SELECT hard_limit_micros AS hard FROM budgets WHERE tenant = 'acme'`;
    expect(Number(budget!.hard)).toBe(5_000_000);
  });
});
