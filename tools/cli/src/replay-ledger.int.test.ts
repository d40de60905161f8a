import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyring } from '@switchyard/auth';
import { createBilling, type Billing } from '@switchyard/billing';
import { connectBus, jetstream, jetstreamManager, openBucket, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { buckets, makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { createMetering, type Metering } from '@switchyard/metering';
import { DEFAULT_PRICE_BOOK, type PriceBook } from '@switchyard/pricing';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, waitFor, type TestServer } from '@switchyard/testing';
import { parquetReadObjects } from 'hyparquet';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayExport } from './replay.js';

let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let metering: Metering;
let billing: Billing;
let dir: string;

/** A second price-book version, in force for the later half of the run's usage. */
const T = Date.now() - 60_000;
const V2: PriceBook = { ...DEFAULT_PRICE_BOOK, version: 'v2', effectiveFromUnixMs: T + 30_000, batchDiscount: 0.4 };

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'cli-replay-ledger-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  const logger = (service: string) => createLogger({ service, level: 'silent' });
  metering = createMetering({ nc, js: jetstream(nc), sql, logger: logger('metering'), serviceMetrics: false });
  billing = createBilling({
    js: jetstream(nc),
    sql,
    logger: logger('billing'),
    listen: '127.0.0.1:0',
    keyring: createKeyring([]),
    reconcileEveryMs: 0,
    priceCatalog: [DEFAULT_PRICE_BOOK, V2],
    // Billing writes its catalog here; the replay prices from it, as admission does.
    pricebookKv: await openBucket(nc, buckets.pricebook),
  });
  await metering.start();
  await billing.start();
  dir = mkdtempSync(join(tmpdir(), 'replay-ledger-'));
}, 90_000);

afterAll(async () => {
  await billing?.stop();
  await metering?.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const MODELS = ['llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4'];
const TIERS = [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH];
/** Mostly completions; a platform failure (retried: the same request completes later), a cancel, an expiry. */
const OUTCOMES = [
  Outcome.OUTCOME_COMPLETED,
  Outcome.OUTCOME_COMPLETED,
  Outcome.OUTCOME_FAILED,
  Outcome.OUTCOME_CANCELLED,
  Outcome.OUTCOME_COMPLETED,
  Outcome.OUTCOME_EXPIRED,
];

describe('switchyard replay --stream USAGE of a run', () => {
  it('has one record per completed request, and its cost sums to the ledger revenue of the window', async () => {
    const since = new Date().toISOString();
    const N = 60;
    const completed = new Set<string>();
    for (let i = 0; i < N; i++) {
      const outcome = OUTCOMES[i % OUTCOMES.length]!;
      // A failed attempt is retried under the same request id; only the retry completes it.
      const requestId = `req-${outcome === Outcome.OUTCOME_FAILED ? i + 2 : i}`;
      if (outcome === Outcome.OUTCOME_COMPLETED) completed.add(requestId);
      const u: UsageRecorded = {
        usageId: `usage-${i}`,
        requestId,
        tenant: ['acme', 'globex'][i % 2]!,
        feature: ['chat', 'search', ''][i % 3]!,
        model: MODELS[i % 3]!,
        tier: TIERS[Math.floor(i / 3) % 3]!,
        pool: 'gpu-a',
        workerId: 'w0',
        usage: { inputTokens: 500 + 37 * i, cachedInputTokens: (i * 13) % 200, outputTokens: 100 + 11 * i },
        gpuMs: 50 + i,
        queueMs: 1,
        ttftMs: 10,
        totalMs: 100,
        outcome,
      };
      // Recorded times span both price-book versions.
      await publishEvent(
        jetstream(nc),
        subjects.usageRecorded(u.tenant),
        makeEvent({ id: `e-${u.usageId}`, tenant: u.tenant, requestId, nowMs: T + i * 1_000 }, { $case: 'usageRecorded', usageRecorded: u }),
      );
    }
    await waitFor('every usage posted to the ledger', async () => {
      const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions`;
      return Number(r!.n) === N ? true : undefined;
    });
    const [ledger] = await sql<{ revenue: string }[]>`
      SELECT coalesce(sum(amount_micros), 0) AS revenue FROM ledger_entries WHERE account_id LIKE 'platform:revenue:%' AND side = 'credit'`;

    const file = join(dir, 'usage.parquet');
    await replayExport({ nc, stderr: { write: () => true } as unknown as NodeJS.WritableStream }, { stream: 'USAGE', since, out: file });
    const buf = readFileSync(file);
    const rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) })) as Record<string, unknown>[];
    expect(rows).toHaveLength(N);
    const done = rows.filter((r) => r.outcome === 'completed').map((r) => r.request_id as string);
    expect(done.sort()).toEqual([...completed].sort());
    expect(new Set(rows.map((r) => r.price_version))).toEqual(new Set(['v1', 'v2', '']));
    const cost = rows.reduce((s, r) => s + Number(r.cost_micros), 0);
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBe(Number(ledger!.revenue));
  });
});
