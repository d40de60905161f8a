/**
 * Ledger posting benchmark: N usage events (with duplicates, shuffled) through the batched
 * poster billing runs, against a private PostgreSQL (or a fresh database in DATABASE_URL),
 * then every ledger invariant checked. With --via-bus the events are first published on
 * BILLING and the billing service itself consumes and posts them (JetStream included).
 *
 *   pnpm bench:ledger [--events 100000] [--duplicates 0.1] [--batch 1000] [--parallel 3] [--via-bus] [--fsync]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { createKeyring } from '@switchyard/auth';
import { createBilling, createLedgerPoster, migrate, preparePosting, reconcileLedger, seedCatalog, type UsagePosting } from '@switchyard/billing';
import { connectBus, createMicroBatch, jetstream, jetstreamManager, provisionStreams } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { encodeEvent, makeEvent, streams, subjects, Tier, type BillableUsage } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, type TestServer } from '@switchyard/testing';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    duplicates: { type: 'string', default: '0.1' },
    batch: { type: 'string', default: '1000' },
    parallel: { type: 'string', default: '3' },
    'via-bus': { type: 'boolean', default: false },
    fsync: { type: 'boolean', default: false },
  },
});
const N = Number(args.events);
const DUP = Number(args.duplicates);
const BATCH = Number(args.batch);
const PARALLEL = Number(args.parallel);

const pools = loadPoolsFile(fileURLToPath(new URL('../deploy/pools.yaml', import.meta.url)));
const poolCosts = new Map(pools.map((p) => [p.id, { provider: p.provider, capacityClass: p.capacityClass, pricePerGpuHour: p.pricePerGpuHour }]));
const tiers = [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH];
const features = ['chat', 'search', 'summarise', 'agent', ''];

// Deterministic pseudo-random numbers, so runs compare.
let seed = 42;
const rand = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;

const start = Date.now() - 3_600_000;
const unique: BillableUsage[] = Array.from({ length: N }, (_, i) => {
  const pool = pick(pools);
  return {
    usageId: `usage-bench-${i}`,
    requestId: `bench-${i}`,
    tenant: `tenant-${Math.floor(rand() * 50)}`,
    feature: pick(features),
    model: pool.model,
    tier: pick(tiers),
    pool: pool.id,
    gpuSeconds: Math.round(rand() * 2_000_000) / 1e6,
    recordedUnixMs: start + Math.floor((i / N) * 3_000_000),
    usage: { inputTokens: 1 + Math.floor(rand() * 4000), cachedInputTokens: Math.floor(rand() * 500), outputTokens: 1 + Math.floor(rand() * 1000) },
  };
});
const deliveries = [...unique, ...Array.from({ length: Math.round(N * DUP) }, () => pick(unique))];
for (let i = deliveries.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
}
const postings = deliveries.map((u) => preparePosting(u, [DEFAULT_PRICE_BOOK], poolCosts));
const expectedMicros = unique.reduce((s, u) => s + preparePosting(u, [DEFAULT_PRICE_BOOK], poolCosts).amountMicros, 0);

/** CPU seconds used so far by PostgreSQL's server processes (Linux /proc), to see cost apart from the machine's load. */
function postgresCpuSeconds(postmaster: number | undefined): number {
  if (!postmaster) return Number.NaN;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ');
      if (Number(pid) === postmaster || Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks / 100;
}

const pg = await startPostgres();
let nats: TestServer | undefined;
const sql = postgres(pg.url, { max: PARALLEL + 2, onnotice: () => {} });
try {
  if (args.fsync) {
    await sql`ALTER SYSTEM SET fsync = on`;
    await sql`SELECT pg_reload_conf()`;
  }
  await migrate(sql);
  await seedCatalog(sql, [DEFAULT_PRICE_BOOK]);
  let t0: number;
  let cpu0: NodeJS.CpuUsage;
  let pgCpu0: number;
  let posted = 0;
  if (!args['via-bus']) {
    const poster = createLedgerPoster(sql);
    const batch = createMicroBatch<UsagePosting, string>({
      maxBatch: BATCH,
      maxParallel: PARALLEL,
      flush: async (items) => (await poster.post(items)).outcomes,
    });
    // Like the billing consumer: up to 2,048 deliveries outstanding at once.
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    pgCpu0 = postgresCpuSeconds(pg.process?.pid);
    let next = 0;
    const worker = async () => {
      while (next < postings.length) {
        const p = postings[next++]!;
        if ((await batch.submit(p)) === 'posted') posted++;
      }
    };
    await Promise.all(Array.from({ length: 2048 }, worker));
  } else {
    nats = await startNats();
    const nc = await connectBus({ url: nats.url, name: 'ledger-bench' });
    const js = jetstream(nc, { timeout: 30_000 });
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, Object.values(streams));
    // Every delivery under its own msgID: duplicates reach billing as replays would.
    for (let i = 0; i < deliveries.length; i += 2_000) {
      await Promise.all(
        deliveries
          .slice(i, i + 2_000)
          .map((u, k) =>
            js.publish(
              subjects.billingUsage(u.tenant),
              encodeEvent(
                makeEvent({ id: `d${i + k}`, tenant: u.tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'billableUsage', billableUsage: u }),
              ),
            ),
          ),
      );
    }
    const billing = createBilling({
      js,
      sql,
      keyring: createKeyring([]),
      logger: createLogger({ service: 'billing', level: 'silent' }),
      listen: '127.0.0.1:0',
      pools,
      maxBatch: BATCH,
      maxParallelBatches: PARALLEL,
      reconcileEveryMs: 0,
    });
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    pgCpu0 = postgresCpuSeconds(pg.process?.pid);
    await billing.start();
    // Poll the ledger, not the consumer: on nats-server 2.9 consumer info of a filtered
    // consumer stalls its deliveries.
    for (;;) {
      const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'usage'`;
      if (Number(r!.n) >= N) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await billing.stop();
    await nc.close();
    posted = N;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nodeCpu = (cpu.user + cpu.system) / 1e6;
  const pgCpu = postgresCpuSeconds(pg.process?.pid) - pgCpu0;

  const [tx] = await sql<{ n: string; distinct_ids: string; amount: string }[]>`
    SELECT count(*) AS n, count(DISTINCT usage_id) AS distinct_ids, sum(amount_micros) AS amount FROM ledger_transactions WHERE kind = 'usage'`;
  const [unbalanced] = await sql<{ n: string }[]>`
    SELECT count(*) AS n FROM (SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id GROUP BY t.id
      HAVING count(e.id) < 2 OR coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'debit'), 0) <> coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'credit'), 0)) x`;
  const report = await reconcileLedger(sql, { startMs: start, endMs: Date.now(), books: new Map([[DEFAULT_PRICE_BOOK.version, DEFAULT_PRICE_BOOK]]) });

  const checks = {
    'usage transactions == unique usage ids': Number(tx!.n) === N && posted === N,
    'no usage id twice': Number(tx!.distinct_ids) === Number(tx!.n),
    'every transaction balanced': Number(unbalanced!.n) === 0,
    'account totals == sum of entries': report.accounts.length === 0,
    'trial balance: debits == credits': report.trialBalance.debitMicros === report.trialBalance.creditMicros,
    'amounts == entries == price version': report.amountMismatches.length === 0 && report.repriced.length === 0,
    'GPU cost accrued == usage GPU cost': report.gpuCost.length === 0,
    'billed total == priced total': Number(tx!.amount) === expectedMicros,
  };
  const rate = (n: number) => Math.round(n / seconds).toLocaleString('en-US');
  console.log(
    `ledger bench: ${deliveries.length.toLocaleString('en-US')} deliveries (${N.toLocaleString('en-US')} unique usage ids, ${(DUP * 100).toFixed(0)}% duplicates, shuffled)`,
  );
  console.log(
    `  ${args['via-bus'] ? 'consumed from JetStream by the billing service' : 'posted directly'}, batch ${BATCH}, ${PARALLEL} transactions in flight, fsync ${args.fsync ? 'on' : 'off'}`,
  );
  console.log(`  posted in ${seconds.toFixed(2)} s: ${rate(deliveries.length)} usage events/s delivered, ${rate(N)} ledger transactions/s posted`);
  console.log(
    `  CPU: poster ${nodeCpu.toFixed(2)} s + PostgreSQL ${pgCpu.toFixed(2)} s = ${(((nodeCpu + pgCpu) / deliveries.length) * 1e6).toFixed(0)} µs per event (load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores)`,
  );
  for (const [name, ok] of Object.entries(checks)) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}`);
  if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
} finally {
  await sql.end();
  await pg.dispose();
  await nats?.dispose();
}
