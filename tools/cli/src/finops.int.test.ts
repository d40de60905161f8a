import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { createKeyring, generateApiKey, hashApiKey, openTenantStore, type TenantStore } from '@switchyard/auth';
import { createBilling, type Billing } from '@switchyard/billing';
import { connectBus, jetstream, jetstreamManager, openBucket, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { buckets, makeEvent, Outcome, streams, subjects, Tier, type BillableUsage } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingCalls, type BillingCalls } from './billing-target.js';

let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let billing: Billing;
let calls: BillingCalls;
let store: TenantStore;
let billingAddress: string;
const operatorKey = generateApiKey();
const NOW = Date.now();
const MONTH = new Date(NOW).toISOString().slice(0, 7);

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'cli-finops-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  store = await openTenantStore(await openBucket(nc, buckets.tenants));
  for (const tenant of ['acme', 'globex', 'initech']) await store.putKey({ tenant, keyId: `${tenant}-1`, keyHash: hashApiKey(generateApiKey()) });
  billing = createBilling({
    js: jetstream(nc),
    sql,
    logger: createLogger({ service: 'billing', level: 'silent' }),
    listen: '127.0.0.1:0',
    reconcileEveryMs: 0,
    budgetFlushMs: 50,
    keyring: createKeyring([{ tenant: 'ops', keyId: 'ops-1', keyHash: hashApiKey(operatorKey), operator: true }]),
    tenantExists: (t) => store.exists(t),
  });
  billingAddress = await billing.start();
  calls = billingCalls({ address: billingAddress, apiKey: operatorKey, credentials: credentials.createInsecure() });
}, 60_000);

afterAll(async () => {
  calls?.close();
  await billing?.stop();
  await store?.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

const bin = new URL('../bin/switchyard.js', import.meta.url).pathname;

/** Runs the real `switchyard` command against this file's billing and NATS; never throws. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, SWITCHYARD_OPERATOR_KEY: operatorKey, SWITCHYARD_BILLING_ADDR: billingAddress, NATS_URL: nats.url };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('switchyard budget', () => {
  it('sets a tenant-wide and a feature budget through billing and shows them back', async () => {
    const set = await run('budget', 'set', '--tenant', 'acme', '--soft-micros', '4000000', '--hard-micros', '5000000');
    expect(set).toMatchObject({ code: 0 });
    await expect(run('budget', 'set', '--tenant', 'acme', '--feature', 'search', '--hard-micros', '700000')).resolves.toMatchObject({ code: 0 });
    const got = await run('budget', 'get', '--tenant', 'acme');
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/\(whole tenant\)\s+4000000\s+5000000\s+0\s+5000000\s+ok/);
    expect(got.stdout).toMatch(/search\s+-\s+700000\s+0\s+700000\s+ok/);
    // What GetBudget returns is what the CLI stored: billing is the one owner.
    const scopes = (await calls.getBudget('acme')).state!.scopes;
    expect(scopes.map((s) => [s.feature, s.softLimitMicros, s.hardLimitMicros]).sort()).toEqual([
      ['', 4_000_000, 5_000_000],
      ['search', 0, 700_000],
    ]);
  }, 30_000);

  it('refuses a negative, non-numeric or missing limit and an unknown or invalid tenant, setting nothing', async () => {
    for (const args of [
      ['--tenant', 'globex', '--hard-micros', '-5'],
      ['--tenant', 'globex', '--hard-micros', 'lots'],
      ['--tenant', 'globex'],
      ['--tenant', 'nobody', '--hard-micros', '5'],
      ['--tenant', 'a.b', '--hard-micros', '5'],
    ]) {
      const r = await run('budget', 'set', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(
        /expected a whole number of micros|give --soft-micros and\/or --hard-micros|no tenant "nobody"|expected a tenant id/,
      );
    }
    expect((await calls.getBudget('globex')).state?.scopes ?? []).toEqual([]);
    expect((await calls.getBudget('nobody')).state?.scopes ?? []).toEqual([]);
  }, 60_000);
});

describe('switchyard credit add and balance', () => {
  it('adds prepaid credit once per reference and shows it in the balance', async () => {
    const added = await run('credit', 'add', '--tenant', 'globex', '--micros', '2500000', '--reference', 'pay-1');
    expect(added).toMatchObject({ code: 0, stdout: expect.stringMatching(/added 2500000 µ of prepaid credit .* holds 2500000 µ/) });
    const again = await run('credit', 'add', '--tenant', 'globex', '--micros', '2500000', '--reference', 'pay-1');
    expect(again).toMatchObject({ code: 0, stdout: expect.stringMatching(/already recorded .* nothing added/) });
    const balance = await run('balance', '--tenant', 'globex');
    expect(balance.code).toBe(0);
    expect(balance.stdout).toMatch(/tenant:globex:prepaid\s+-2500000\s+-2\.500000\s+prepaid credit held: 2500000 µ/);
  }, 30_000);

  it("refuses a reused reference with another amount with billing's message, a bad amount and an unknown tenant, adding nothing", async () => {
    const reused = await run('credit', 'add', '--tenant', 'globex', '--micros', '999', '--reference', 'pay-1');
    expect(reused.code).not.toBe(0);
    expect(reused.stderr).toMatch(/reference pay-1 was already recorded with another amount/);
    for (const args of [
      ['--tenant', 'globex', '--micros', '-1', '--reference', 'pay-2'],
      ['--tenant', 'globex', '--micros', '0', '--reference', 'pay-2'],
      ['--tenant', 'globex', '--micros', '1.5', '--reference', 'pay-2'],
      ['--tenant', 'nobody', '--micros', '100', '--reference', 'pay-2'],
    ]) {
      const r = await run('credit', 'add', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/expected a positive whole number of micros|no tenant "nobody"/);
    }
    // Debits minus credits: credit held shows as a credit balance.
    expect((await calls.getBalance('globex')).balances.find((b) => b.account === 'tenant:globex:prepaid')?.balanceMicros).toBe(-2_500_000);
    expect((await calls.getBalance('nobody')).balances).toEqual([]);
  }, 60_000);
});

describe('switchyard invoice', () => {
  it("prints the month's lines, per-feature totals, cost per request and per 1K tokens, credit and amount due", async () => {
    const js = jetstream(nc);
    const usage = (i: number, feature: string): BillableUsage => ({
      usageId: `usage-initech-${i}`,
      outcome: Outcome.OUTCOME_COMPLETED,
      requestId: `initech-${i}`,
      tenant: 'initech',
      feature,
      model: 'llama-3.1-8b',
      tier: Tier.TIER_REALTIME,
      pool: 'eu-8b',
      usage: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500 },
      gpuSeconds: 0.5,
      recordedUnixMs: NOW,
    });
    for (const [i, feature] of ['chat', 'chat', 'search'].entries()) {
      const u = usage(i, feature);
      await publishEvent(
        js,
        subjects.billingUsage('initech'),
        makeEvent({ id: u.usageId, tenant: 'initech', requestId: u.requestId, nowMs: NOW }, { $case: 'billableUsage', billableUsage: u }),
      );
    }
    const month = MONTH;
    const inv = await waitFor('invoice with three requests', async () => {
      const r = (await calls.getInvoice('initech', month)).invoice;
      return r && r.requests === 3 ? r : undefined;
    });
    const printed = await run('invoice', '--tenant', 'initech', '--month', month);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`invoice of tenant initech, ${month} (draft)`);
    expect(printed.stdout).toMatch(new RegExp(`^amount\\s+${inv.amountMicros} µ`, 'm'));
    expect(printed.stdout).toMatch(new RegExp(`^cost per request\\s+${inv.costPerRequestMicros.toFixed(1)} µ`, 'm'));
    expect(printed.stdout).toMatch(new RegExp(`^cost per 1K tokens\\s+${inv.costPer1kTokensMicros.toFixed(1)} µ`, 'm'));
    expect(printed.stdout).toMatch(new RegExp(`^amount due\\s+${inv.amountDueMicros} µ`, 'm'));
    expect(printed.stdout).toMatch(/^per feature$/m);
    const chat = inv.lines.filter((l) => l.feature === 'chat').reduce((a, l) => a + l.amountMicros, 0);
    expect(printed.stdout).toMatch(new RegExp(`^chat\\s+2\\s+3000\\s+${chat}\\s`, 'm'));

    const badMonth = await run('invoice', '--tenant', 'initech', '--month', '2026-13');
    expect(badMonth.code).not.toBe(0);
    expect(badMonth.stderr).toMatch(/expected a month, "YYYY-MM"/);
  }, 60_000);
});

describe('switchyard tenant', () => {
  it('deletes a tenant only with --yes: its settings go, its keys are revoked, its ledger stays', async () => {
    await store.putTenant({ tenant: 'initech', limits: { realtime: { requestsPerMinute: 60, tokensPerMinute: 60_000 } } });
    const refused = await run('tenant', 'delete', 'initech');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Run again with --yes/);
    expect(store.listKeys('initech').every((k) => !k.revoked)).toBe(true);

    const deleted = await run('tenant', 'delete', 'initech', '--yes');
    expect(deleted).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/deleted tenant initech: its settings and 1 active API key\(s\) \(initech-1 revoked\); ledger history kept/),
    });
    await waitFor('the deletion reaches the store', async () =>
      store.settings('initech') === undefined && store.listKeys('initech').every((k) => k.revoked) ? true : undefined,
    );
    expect((await calls.getInvoice('initech', MONTH)).invoice?.requests).toBe(3);

    const gone = await run('tenant', 'delete', 'initech', '--yes');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/unknown tenant "initech"/);
    const credit = await run('credit', 'add', '--tenant', 'initech', '--micros', '100', '--reference', 'late');
    expect(credit.stderr).toMatch(/no tenant "initech"/);
  }, 60_000);

  it('sets rate limits and points --budget-micros at `switchyard budget set`, storing nothing for it', async () => {
    const limits = await run('tenant', 'acme', '--rpm', '60', '--tpm', '6000');
    expect(limits.code).toBe(0);
    expect(JSON.parse(limits.stdout)).toMatchObject({ tenant: 'acme', limits: { realtime: { requestsPerMinute: 60, tokensPerMinute: 6_000 } } });
    const r = await run('tenant', 'acme', '--rpm', '1', '--budget-micros', '5000');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/budgets are billing's now: use `switchyard budget set --tenant acme/);
    await waitFor('the limits reach the store', async () => (store.settings('acme')?.limits.realtime?.requestsPerMinute === 60 ? true : undefined));
  }, 30_000);
});
