import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { createBilling, type Billing } from '@switchyard/billing';
import { connectBus, jetstream, jetstreamManager, openBucket, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import {
  BillingServiceClient,
  BudgetLevel,
  buckets,
  Event,
  InvoiceStatus,
  makeEvent,
  Outcome,
  streams,
  subjects,
  Tier,
  type BillableUsage,
  type BudgetState,
} from '@switchyard/contracts';
import { migrateMetering, recordUsage, toMetered } from '@switchyard/metering';
import { DEFAULT_PRICE_BOOK, priceUsage } from '@switchyard/pricing';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, waitFor, type TestServer, testPool } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let billing: Billing;
let client: BillingServiceClient;
const keys = { acme: generateApiKey(), globex: generateApiKey(), ops: generateApiKey() };
const NOW = Date.now();

const usage = (tenant: string, i: number, over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId: `usage-${tenant}-${i}`,
  outcome: Outcome.OUTCOME_COMPLETED,
  requestId: `${tenant}-${i}`,
  tenant,
  feature: i % 2 ? 'search' : 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'eu-8b',
  usage: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 },
  gpuSeconds: 0.72,
  recordedUnixMs: NOW,
  ...over,
});
const ACME = Array.from({ length: 6 }, (_, i) => usage('acme', i));
const GLOBEX = Array.from({ length: 3 }, (_, i) =>
  usage('globex', i, { model: 'llama-3.2-1b', tier: Tier.TIER_BATCH, usage: { inputTokens: 777_777, cachedInputTokens: 0, outputTokens: 31_337 } }),
);

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'billing-test' });
  const js = jetstream(nc);
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  billing = createBilling({
    js,
    sql,
    logger: createLogger({ service: 'billing', level: 'silent' }),
    listen: '127.0.0.1:0',
    reconcileEveryMs: 0,
    budgetFlushMs: 50,
    pricebookKv: await openBucket(nc, buckets.pricebook),
    keyring: createKeyring([
      { tenant: 'acme', keyId: 'a', keyHash: hashApiKey(keys.acme) },
      { tenant: 'globex', keyId: 'g', keyHash: hashApiKey(keys.globex) },
      { tenant: 'ops', keyId: 'o', keyHash: hashApiKey(keys.ops), operator: true },
    ]),
    pools: [testPool({ id: 'eu-8b', pricePerGpuHour: 3.6, slotsPerWorker: 8 })],
  });
  client = new BillingServiceClient(await billing.start(), credentials.createInsecure());
  await migrateMetering(sql);
  await recordUsage(
    sql,
    [...ACME, ...GLOBEX].map((u) => toMetered(u, 5)),
  );
  for (const u of [...ACME, ...GLOBEX, ACME[0]!]) {
    await publishEvent(
      js,
      subjects.billingUsage(u.tenant),
      makeEvent({ id: `${u.usageId}-${Math.random()}`, tenant: u.tenant, requestId: u.requestId, nowMs: NOW }, { $case: 'billableUsage', billableUsage: u }),
    );
  }
  await waitFor('usage posted', async () => {
    const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'usage'`;
    return Number(r!.n) === ACME.length + GLOBEX.length ? true : undefined;
  });
}, 60_000);

afterAll(async () => {
  client?.close();
  await billing?.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

type Rpc = 'getBalance' | 'listEntries' | 'getInvoice' | 'listUsageRollups' | 'getBudget' | 'setBudget' | 'addCredit';
/** Calls an RPC and returns the raw response bytes' decoded value or the error. */
function call<T>(rpc: Rpc, request: object, key: string): Promise<{ response?: T; error?: ServiceError }> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => {
    (client[rpc] as unknown as (r: object, m: Metadata, cb: (e: ServiceError | null, r?: T) => void) => void).call(
      client,
      request,
      metadata,
      (error, response) => resolve(error ? { error } : { response }),
    );
  });
}

describe('billing gRPC', () => {
  it('refuses every read of another tenant with PERMISSION_DENIED and none of its data', async () => {
    const globexSecrets = [...GLOBEX.map((u) => u.usageId), '777777', '31337', 'llama-3.2-1b', 'receivable', 'search'];
    const reads: [Rpc, object][] = [
      ['getBalance', { tenant: 'globex' }],
      ['listEntries', { tenant: 'globex', requestId: '', pageSize: 0, pageToken: '' }],
      ['getInvoice', { tenant: 'globex', period: '' }],
      ['listUsageRollups', { tenant: 'globex', feature: '', startUnixMs: 0, endUnixMs: 0, pageSize: 0, pageToken: '' }],
      ['getBudget', { tenant: 'globex' }],
    ];
    for (const [rpc, request] of reads) {
      const { response, error } = await call(rpc, request, keys.acme);
      expect(response, rpc).toBeUndefined();
      expect(error?.code, rpc).toBe(status.PERMISSION_DENIED);
      for (const secret of globexSecrets) expect(error?.details, `${rpc} leaks ${secret}`).not.toContain(secret);
      expect(error?.metadata.toJSON(), rpc).not.toHaveProperty('retry-after-ms');
    }
    // The operator reads anyone.
    const { response } = await call<{ balances: { balanceMicros: number }[] }>('getBalance', { tenant: 'globex' }, keys.ops);
    expect(response?.balances).toHaveLength(1);
  });

  it('invoices a month by model, tier and feature with cost per request, per 1K tokens and margin over GPU cost', async () => {
    const { response } = await call<{ invoice: import('@switchyard/contracts').Invoice }>('getInvoice', { tenant: '', period: '' }, keys.acme);
    const invoice = response!.invoice;
    const each = priceUsage(ACME[0]!, DEFAULT_PRICE_BOOK).amountMicros;
    const gpuEach = Math.round((0.72 * 3.6 * 1e6) / 3600);
    expect(invoice).toMatchObject({
      tenant: 'acme',
      status: InvoiceStatus.INVOICE_STATUS_DRAFT,
      requests: 6,
      amountMicros: 6 * each,
      gpuCostMicros: 6 * gpuEach,
      marginMicros: 6 * (each - gpuEach),
    });
    expect(invoice.lines.map((l) => [l.feature, l.requests, l.priceVersion, l.pools])).toEqual([
      ['chat', 3, 'v1', ['eu-8b']],
      ['search', 3, 'v1', ['eu-8b']],
    ]);
    const line = invoice.lines[0]!;
    expect(line.costPerRequestMicros).toBe(each);
    expect(line.costPer1kTokensMicros).toBeCloseTo((3 * each * 1000) / (3 * 1500));
    expect(line).toMatchObject({
      tier: Tier.TIER_REALTIME,
      inputPer1kMicros: 200,
      cachedInputPer1kMicros: 50,
      outputPer1kMicros: 600,
      discount: 0,
      capacityClass: 'on-demand',
    });
    expect(line.marginRatio).toBeCloseTo((each - gpuEach) / each);
  });

  it('serves per-minute usage rollups by feature', async () => {
    const { response } = await call<{ rollups: { feature: string; requests: number; outputTokens: number }[] }>(
      'listUsageRollups',
      { tenant: '', feature: 'search', startUnixMs: NOW - 120_000, endUnixMs: NOW + 120_000, pageSize: 0, pageToken: '' },
      keys.acme,
    );
    expect(response!.rollups).toEqual([expect.objectContaining({ feature: 'search', requests: 3, outputTokens: 1500 })]);
  });

  it('puts every price-book version in the pricebook bucket for admission', async () => {
    const entry = await (await openBucket(nc, buckets.pricebook)).get('v1');
    expect(JSON.parse(entry!.string())).toMatchObject({ version: 'v1', batchDiscount: 0.5, models: { 'llama-3.1-8b': { outputPer1k: 600 } } });
  });

  it('lets only an operator set budgets, and publishes the state admission enforces', async () => {
    expect((await call('setBudget', { tenant: 'acme', feature: '', softLimitMicros: 1, hardLimitMicros: 2 }, keys.acme)).error?.code).toBe(
      status.PERMISSION_DENIED,
    );
    const spent = 6 * priceUsage(ACME[0]!, DEFAULT_PRICE_BOOK).amountMicros;
    const { response } = await call<{ state: BudgetState }>(
      'setBudget',
      { tenant: 'acme', feature: '', softLimitMicros: spent - 10, hardLimitMicros: spent },
      keys.ops,
    );
    expect(response!.state.scopes).toEqual([
      expect.objectContaining({ feature: '', spentMicros: spent, level: BudgetLevel.BUDGET_LEVEL_HARD_EXCEEDED, remainingMicros: 0 }),
    ]);
    await call('setBudget', { tenant: 'acme', feature: 'chat', softLimitMicros: spent, hardLimitMicros: 0 }, keys.ops);
    const published = await waitFor('budget state on billing.budget.acme', async () => {
      const msg = await (await jetstreamManager(nc)).streams.getMessage(streams.BILLING.name, { last_by_subj: subjects.billingBudget('acme') });
      const state = Event.decode(msg!.data).payload;
      return state?.$case === 'budgetState' && state.budgetState.scopes.length === 2 ? state.budgetState : undefined;
    });
    expect(published.scopes.map((s) => [s.feature, s.level])).toEqual([
      ['', BudgetLevel.BUDGET_LEVEL_HARD_EXCEEDED],
      ['chat', BudgetLevel.BUDGET_LEVEL_OK],
    ]);
    expect(published.revision).toBeGreaterThan(0);
  });

  it('records prepaid credit (operator only), which pays later charges, not those already invoiced', async () => {
    expect((await call('addCredit', { tenant: 'acme', amountMicros: 1_000, reference: 'x' }, keys.acme)).error?.code).toBe(status.PERMISSION_DENIED);
    const { response } = await call<{ prepaidCreditMicros: number }>('addCredit', { tenant: 'acme', amountMicros: 1_000, reference: 'pay-1' }, keys.ops);
    expect(response!.prepaidCreditMicros).toBe(1_000);
    const { response: inv } = await call<{
      invoice: { amountMicros: number; amountDueMicros: number; prepaidCreditMicros: number; creditAppliedMicros: number };
    }>('getInvoice', { tenant: '', period: '' }, keys.acme);
    expect(inv!.invoice.prepaidCreditMicros).toBe(1_000);
    expect(inv!.invoice.creditAppliedMicros).toBe(0);
    expect(inv!.invoice.amountDueMicros).toBe(inv!.invoice.amountMicros);
  });
});
