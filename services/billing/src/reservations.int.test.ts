import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { connectBus, jetstream, jetstreamManager, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import {
  BillingServiceClient,
  makeEvent,
  Outcome,
  streams,
  subjects,
  Tier,
  type BillableUsage,
  type CreateReservationResponse,
  type GetInvoiceResponse,
  type ListReservationsResponse,
} from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, priceUsage } from '@switchyard/pricing';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, testPool, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts } from './domain/posting.js';
import { reconcileLedger } from './reconcile-job.js';
import { createBilling, type Billing } from './service.js';

const H = 3_600_000;
let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
const replicas: Billing[] = [];
let client: BillingServiceClient;
const keys = { acme: generateApiKey(), globex: generateApiKey(), ops: generateApiKey() };
const POOLS = [
  testPool({ id: 'r-8b', capacityClass: 'reserved', pricePerGpuHour: 3.7 }),
  testPool({ id: 'r-8b-b', capacityClass: 'reserved', pricePerGpuHour: 3.7 }),
  testPool({ id: 'od-8b', capacityClass: 'on-demand', pricePerGpuHour: 4.1 }),
];

const replica = async () => {
  const billing = createBilling({
    js: jetstream(nc),
    sql,
    logger: createLogger({ service: 'billing', level: 'silent' }),
    listen: '127.0.0.1:0',
    reconcileEveryMs: 0,
    accrueEveryMs: 100,
    keyring: createKeyring([
      { tenant: 'acme', keyId: 'a', keyHash: hashApiKey(keys.acme) },
      { tenant: 'globex', keyId: 'g', keyHash: hashApiKey(keys.globex) },
      { tenant: 'ops', keyId: 'o', keyHash: hashApiKey(keys.ops), operator: true },
    ]),
    pools: POOLS,
  });
  replicas.push(billing);
  return billing.start();
};

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'billing-reservations-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  client = new BillingServiceClient(await replica(), credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const r of replicas) await r.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

function call<T>(rpc: 'createReservation' | 'listReservations' | 'getInvoice', request: object, key: string): Promise<{ response?: T; error?: ServiceError }> {
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

const HOUR0 = Math.floor(Date.now() / H) * H;
const reservation = {
  reservationId: 'acme-2030',
  tenant: 'acme',
  pools: ['r-8b'],
  gpus: 2,
  // Three hours and a half ago: half an hour, then two whole hours, have elapsed.
  startUnixMs: HOUR0 - 3 * H + H / 2,
  endUnixMs: HOUR0 + 5 * H,
};
const reservationCount = async () => Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM reservations`)[0]!.n);

const usage = (id: string, tenant: string, pool: string): BillableUsage => ({
  usageId: `u-${id}`,
  outcome: Outcome.OUTCOME_COMPLETED,
  requestId: `r-${id}`,
  tenant,
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool,
  usage: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500 },
  gpuSeconds: 0.5,
  recordedUnixMs: Date.now(),
});

describe('reservations', () => {
  it('refuses bad reservations with a clear error, and stores nothing', async () => {
    const bad: [object, string, RegExp][] = [
      [{ pools: ['r-8b', 'no-such-pool', 'gone-too'] }, keys.ops, /pools that do not exist: "no-such-pool", "gone-too"/],
      [{ pools: ['od-8b'] }, keys.ops, /not reserved capacity: "od-8b"/],
      [{ tenant: 'acme corp!' }, keys.ops, /tenant must be/],
      [{ endUnixMs: reservation.startUnixMs - 1 }, keys.ops, /end must be after start/],
      [{ gpus: -2 }, keys.ops, /gpus must be a positive whole number/],
    ];
    for (const [over, key, why] of bad) {
      const { error } = await call('createReservation', { ...reservation, ...over }, key);
      expect(error?.code, JSON.stringify(over)).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(why);
    }
    expect((await call('createReservation', reservation, keys.acme)).error?.code).toBe(status.PERMISSION_DENIED);
    expect(await reservationCount()).toBe(0);
  });

  it('charges the fee pro rata per elapsed hour, once however many replicas accrue it', async () => {
    const { response, error } = await call<CreateReservationResponse>('createReservation', reservation, keys.ops);
    expect(error?.details).toBeUndefined();
    expect(response!.reservation).toMatchObject({
      model: 'llama-3.1-8b',
      feePerGpuHourMicros: 4_500_000,
      priceVersion: 'v1',
      totalFeeMicros: 2 * 7.5 * 4_500_000,
    });
    expect((await call<CreateReservationResponse>('createReservation', reservation, keys.ops)).response!.duplicate).toBe(true);
    const other = await call('createReservation', { ...reservation, gpus: 3 }, keys.ops);
    expect(other.error?.code).toBe(status.FAILED_PRECONDITION);
    // A second replica accrues the same hours at the same time.
    await replica();

    const charged = await waitFor('the elapsed hours charged', async () => {
      const [row] = await sql<
        { n: string; s: string | null }[]
      >`SELECT count(*) AS n, sum(amount_micros) AS s FROM ledger_transactions WHERE kind = 'reservation_fee'`;
      return Number(row!.n) >= 3 ? { n: Number(row!.n), micros: Number(row!.s) } : undefined;
    });
    const elapsedHours = (Math.floor(Date.now() / H) * H - reservation.startUnixMs) / H;
    expect(charged.micros).toBe(Math.round(2 * 4_500_000 * elapsedHours));
    expect(charged.n).toBe(Math.ceil(elapsedHours));
    const [receivable] = await sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${accounts.receivable('acme')}`;
    expect(Number(receivable!.b)).toBe(charged.micros);
    const [revenue] = await sql<{ c: string }[]>`SELECT credit_micros AS c FROM accounts WHERE id = ${accounts.reservationRevenue('llama-3.1-8b')}`;
    expect(Number(revenue!.c)).toBe(charged.micros);

    const mine = await call<ListReservationsResponse>('listReservations', { tenant: '' }, keys.acme);
    expect(mine.response!.reservations).toEqual([expect.objectContaining({ reservationId: 'acme-2030', feeChargedMicros: charged.micros })]);
    expect((await call<ListReservationsResponse>('listReservations', { tenant: '' }, keys.globex)).response!.reservations).toEqual([]);
    expect((await call('listReservations', { tenant: 'acme' }, keys.globex)).error?.code).toBe(status.PERMISSION_DENIED);
    const invoice = (await call<GetInvoiceResponse>('getInvoice', { tenant: '', period: '' }, keys.acme)).response!.invoice!;
    const [thisMonth] = await sql<{ s: string | null }[]>`
      SELECT sum(amount_micros) AS s FROM ledger_transactions WHERE kind = 'reservation_fee' AND recorded_at >= ${new Date(invoice.periodStartUnixMs)}`;
    expect(invoice.reservationFeeMicros).toBe(Number(thisMonth!.s ?? 0));
    expect(invoice.amountDueMicros).toBe(invoice.amountMicros + invoice.reservationFeeMicros);

    // Reconciliation holds every charged hour to the pinned terms and finds none due missing.
    const report = await reconcileLedger(sql, {
      startMs: reservation.startUnixMs,
      endMs: Date.now(),
      books: new Map([['v1', DEFAULT_PRICE_BOOK]]),
    });
    expect(report).toMatchObject({ reservationFees: [], overdrawnPrepaid: [], unbalanced: [], money: { reservationFeeMicros: charged.micros } });
    expect(report.trialBalance.debitMicros).toBe(report.trialBalance.creditMicros);
  });

  it('gives the reserved rate to the holder on its pools only; a non-holder on a reserved pool pays on demand', async () => {
    const js = jetstream(nc);
    const usages = [usage('acme-r', 'acme', 'r-8b'), usage('globex-r', 'globex', 'r-8b'), usage('acme-b', 'acme', 'r-8b-b'), usage('acme-od', 'acme', 'od-8b')];
    for (const u of usages)
      await publishEvent(
        js,
        subjects.billingUsage(u.tenant),
        makeEvent({ id: u.usageId, tenant: u.tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'billableUsage', billableUsage: u }),
      );
    const rows = await waitFor('usage posted', async () => {
      const r = await sql<{ usage_id: string; amount_micros: string; capacity_class: string }[]>`
        SELECT usage_id, amount_micros, capacity_class FROM ledger_transactions WHERE kind = 'usage' ORDER BY usage_id`;
      return r.length === usages.length ? r : undefined;
    });
    const onDemand = priceUsage(usages[0]!, DEFAULT_PRICE_BOOK).amountMicros;
    const reserved = priceUsage(usages[0]!, DEFAULT_PRICE_BOOK, { capacityClass: 'reserved' }).amountMicros;
    expect(reserved).toBeLessThan(onDemand);
    expect(rows.map((r) => [r.usage_id, Number(r.amount_micros), r.capacity_class])).toEqual([
      ['u-acme-b', onDemand, 'on-demand'],
      ['u-acme-od', onDemand, 'on-demand'],
      ['u-acme-r', reserved, 'reserved'],
      ['u-globex-r', onDemand, 'on-demand'],
    ]);
  });

  it('catches up a reservation made long after it started, past the most hours one accrual posts', async () => {
    const start = HOUR0 - 300 * 24 * H;
    const { error } = await call(
      'createReservation',
      { reservationId: 'long-co-1', tenant: 'long-co', pools: ['r-8b-b'], gpus: 1, startUnixMs: start, endUnixMs: HOUR0 + H },
      keys.ops,
    );
    expect(error).toBeUndefined();
    const hours = await waitFor(
      'every elapsed hour charged',
      async () => {
        const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'reservation_fee' AND tenant = 'long-co'`;
        return Number(row!.n) >= 300 * 24 ? Number(row!.n) : undefined;
      },
      30_000,
    );
    expect(hours).toBe((Math.floor(Date.now() / H) * H - start) / H);
  }, 60_000);
});
