import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { connectBus, jetstream, jetstreamManager, openBucket, provisionStreams, type KV, type NatsConnection } from '@switchyard/bus';
import { BillingServiceClient, streams, Tier, type GetFleetReportResponse } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { createLogger } from '@switchyard/telemetry';
import { idleHeartbeat, startNats, startPostgres, testPool, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accounts, preparePosting } from './domain/posting.js';
import { createLedgerPoster } from './ledger-posting.js';
import { reconcileLedger } from './reconcile-job.js';
import { createBilling, type Billing } from './service.js';

const MINUTE = 60_000;
const HOUR0 = Date.UTC(2030, 3, 10, 9);
let clock = HOUR0;
let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let kv: KV;
const replicas: Billing[] = [];
let client: BillingServiceClient;
const ops = generateApiKey();
const POOL = testPool({ id: 'p-fleet', workers: 2, pricePerGpuHour: 3.6 });
/** A provider's deployment served by an engine adapter: priced per token, no GPUs of ours. */
const PROVIDER = testPool({
  id: 'p-oai',
  kind: 'provider',
  provider: 'azure-openai',
  pricePerGpuHour: undefined,
  tokenPrices: { inputPerMillion: 2.5, outputPerMillion: 10 },
});

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'billing-fleet-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  kv = await openBucket(nc, `pools-${Math.random().toString(36).slice(2)}`, { ttl: 10_000 });
  // Two replicas sample the same fleet at once and both try to accrue every closed hour.
  for (let i = 0; i < 2; i++) {
    const billing = createBilling({
      js: jetstream(nc),
      sql,
      logger: createLogger({ service: 'billing', level: 'silent' }),
      listen: '127.0.0.1:0',
      reconcileEveryMs: 0,
      poolsKv: kv,
      fleetSampleMs: 20,
      accrueEveryMs: 50,
      now: () => clock,
      keyring: createKeyring([{ tenant: 'ops', keyId: 'o', keyHash: hashApiKey(ops), operator: true }]),
      pools: [POOL, PROVIDER],
    });
    replicas.push(billing);
    const address = await billing.start();
    client ??= new BillingServiceClient(address, credentials.createInsecure());
  }
}, 60_000);

afterAll(async () => {
  client?.close();
  for (const r of replicas) await r.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

const workerMinutes = async () => Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM fleet_minutes WHERE pool = 'p-fleet'`)[0]!.n);

describe('idle capacity', () => {
  it('accrues the provisioned fleet from heartbeats once per worker and minute, and its idle part once per pool and hour', async () => {
    // Ten minutes of two live workers, then ten of one: 30 worker-minutes (1,800 GPU-s) provisioned.
    for (let m = 0; m < 20; m++) {
      clock = HOUR0 + m * MINUTE + 30_000;
      const workers = m < 10 ? ['w1', 'w2'] : ['w1'];
      // The adapter serving the provider pool heartbeats all along, before the GPU workers.
      const adapter = idleHeartbeat(PROVIDER, 'a1', clock);
      await kv.put(adapter.key, adapter.value);
      for (const w of workers) {
        const { key, value } = idleHeartbeat(POOL, w, clock);
        await kv.put(key, value);
      }
      await waitFor(`minute ${m} sampled`, async () => ((await workerMinutes()) === (m < 10 ? 2 * (m + 1) : 20 + (m - 9)) ? true : undefined));
    }
    expect(await workerMinutes()).toBe(30);

    // Requests used 450 GPU-s of it (a quarter); one more ran on the provider (no GPU time seen,
    // 100 input tokens at 2.50 and 100 output at 10.00 per million: 1,250 micros).
    const costs = new Map([
      ['p-fleet', { provider: POOL.provider, capacityClass: POOL.capacityClass, pricePerGpuHour: POOL.pricePerGpuHour }],
      ['p-oai', { provider: PROVIDER.provider, capacityClass: PROVIDER.capacityClass, tokenPrices: PROVIDER.tokenPrices }],
    ]);
    await createLedgerPoster(sql).post(
      Array.from({ length: 4 }, (_, i) =>
        preparePosting(
          {
            usageId: `u-fleet-${i}`,
            requestId: `r-fleet-${i}`,
            tenant: 'acme',
            feature: '',
            model: 'llama-3.1-8b',
            tier: Tier.TIER_REALTIME,
            pool: i < 3 ? 'p-fleet' : 'p-oai',
            usage: { inputTokens: 100, cachedInputTokens: 0, outputTokens: 100 },
            gpuSeconds: i < 3 ? 150 : 0,
            recordedUnixMs: HOUR0 + i * MINUTE,
          },
          [DEFAULT_PRICE_BOOK],
          costs,
        ),
      ),
    );

    // Nothing is accrued for an hour before it has closed (and usage had time to arrive).
    clock = HOUR0 + 60 * MINUTE + 60_000;
    await kv.delete('p-fleet.w1');
    await kv.delete('p-fleet.w2');
    await kv.delete('p-oai.a1');
    const idle = async () =>
      sql<{ amount_micros: string; gpu_seconds: number; gpu_cost_micros: string }[]>`SELECT * FROM ledger_transactions WHERE kind = 'gpu_idle'`;
    expect(await idle()).toHaveLength(0);

    clock = HOUR0 + 66 * MINUTE;
    const [tx] = await waitFor('the idle hour accrued', async () => ((await idle()).length ? idle() : undefined));
    // Provisioned 1,800 GPU-s at 3.60/h = 1,800,000 micros; usage already accrued 450 GPU-s = 450,000.
    expect({ amount: Number(tx!.amount_micros), provisioned: tx!.gpu_seconds, cost: Number(tx!.gpu_cost_micros) }).toEqual({
      amount: 1_350_000,
      provisioned: 1_800,
      cost: 1_800_000,
    });
    // The provider pool was sampled too, but has no idle cost to accrue: the only accrual is the GPU pool's.
    expect(Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM fleet_minutes WHERE pool = 'p-oai'`)[0]!.n)).toBeGreaterThan(0);
    // Both replicas accruing again, at once: still one transaction for the pool and hour.
    clock = HOUR0 + 70 * MINUTE;
    await Promise.all([...replicas, ...replicas].map((r) => r.accrue()));
    expect(await idle()).toHaveLength(1);
    const [idleAccount] = await sql<{ d: string }[]>`SELECT debit_micros AS d FROM accounts WHERE id = ${accounts.gpuIdle('p-fleet')}`;
    expect(Number(idleAccount!.d)).toBe(1_350_000);
    const [payable] = await sql<{ c: string }[]>`SELECT credit_micros AS c FROM accounts WHERE id = ${accounts.gpuPayable(POOL.provider)}`;
    expect(Number(payable!.c)).toBe(1_800_000); // usage's GPU cost plus idle: what the fleet cost
    const [tokens] = await sql<{ c: string }[]>`SELECT credit_micros AS c FROM accounts WHERE id = ${accounts.gpuPayable('azure-openai')}`;
    expect(Number(tokens!.c)).toBe(1_250); // the tokens served, nothing for the idle minutes

    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${ops}`);
    const report = await new Promise<GetFleetReportResponse>((resolve, reject) =>
      client.getFleetReport({ period: '2030-04' }, metadata, (e: ServiceError | null, r?: GetFleetReportResponse) => (e ? reject(e) : resolve(r!))),
    );
    expect(report.pools).toEqual([
      expect.objectContaining({
        pool: 'p-fleet',
        provisionedGpuSeconds: 1_800,
        usedGpuSeconds: 450,
        utilization: 0.25,
        provisionedCostMicros: 1_800_000,
        usedCostMicros: 450_000,
        idleCostMicros: 1_350_000,
        costBasis: 'gpu-hour',
      }),
      expect.objectContaining({
        pool: 'p-oai',
        costBasis: 'per-token',
        provisionedGpuSeconds: 0,
        usedGpuSeconds: 0,
        utilization: 0,
        provisionedCostMicros: 0,
        usedCostMicros: 1_250,
        idleCostMicros: 0,
      }),
    ]);
    expect(report).toMatchObject({ utilization: 0.25, idleCostMicros: 1_350_000 });

    // Reconciliation holds the accrual to the fleet sampled in its hour; a minute written after it was accrued shows.
    const reconcile = () => reconcileLedger(sql, { startMs: HOUR0, endMs: HOUR0 + 60 * MINUTE, books: new Map([['v1', DEFAULT_PRICE_BOOK]]), nowMs: clock });
    expect(await reconcile()).toMatchObject({ idleAccruals: [], unbalanced: [], money: { idleGpuCostMicros: 1_350_000 } });
    await sql`INSERT INTO fleet_minutes (pool, worker, minute) VALUES ('p-fleet', 'late', ${new Date(HOUR0 + 30 * MINUTE)})`;
    expect((await reconcile()).idleAccruals).toEqual([{ pool: 'p-fleet', hourMs: HOUR0, reason: 'accrued 1800 GPU-s provisioned, sampled 1860' }]);
  });
});
