import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateApiKey, hashApiKey } from '@switchyard/auth';
import { connectBus, jetstream, jetstreamManager, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { startNats, startPostgres, waitFor, type ProcessServer, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess } from '../support/service-process.js';

/**
 * kill -9 billing 5 times and metering 3 times while usage flows for 60 s, then prove
 * ledger transactions == completed requests, no duplicates, none lost, reconciliation 0.
 * Usage is fed straight into USAGE (what workers publish for each completed request), so
 * the count of completed requests is exact and the run does not depend on GPU timing.
 * Some usage is published twice with the same msgID (a publish retry) and some again
 * under another envelope id (a replay the stream's duplicate window cannot catch).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POOLS_FILE = `${ROOT}deploy/pools.yaml`;
const LOAD_MS = 60_000;
const PER_SECOND = 150;

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let sql: Sql;
const running: ProcessServer[] = [];

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'chaos-load' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('chaos: kill -9 billing and metering during a 60 s load run', () => {
  it('bills every completed request exactly once and reconciles to zero', async () => {
    const env = {
      NATS_URL: nats.url,
      DATABASE_URL: pg.url,
      POOLS_FILE,
      BILLING_LISTEN: '127.0.0.1:0',
      BILLING_RECONCILE_EVERY_MS: '0',
      API_KEYS: `acme:chaos:${hashApiKey(generateApiKey())}`,
    };
    const [billing, metering] = await Promise.all([startServiceProcess('billing', env), startServiceProcess('metering', env)]);
    running.push(billing, metering);

    const pools = loadPoolsFile(POOLS_FILE);
    const js = jetstream(nc);
    const published = new Set<string>();
    const usage = (n: number): UsageRecorded => {
      const pool = pools[n % pools.length]!;
      return {
        usageId: `usage-chaos-${n}`,
        outcome: Outcome.OUTCOME_COMPLETED,
        requestId: `chaos-${n}`,
        tenant: `tenant-${n % 4}`,
        feature: n % 3 ? 'chat' : 'search',
        model: pool.model,
        tier: [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH][n % 3]!,
        pool: pool.id,
        workerId: 'w',
        gpuMs: 50 + (n % 97) * 3.3,
        usage: { inputTokens: 100 + (n % 500), cachedInputTokens: n % 50, outputTokens: 1 + (n % 300) },
        queueMs: 1,
        ttftMs: 20 + (n % 40),
        totalMs: 400,
      };
    };
    const publish = (u: UsageRecorded, envelopeId: string) =>
      publishEvent(
        js,
        subjects.usageRecorded(u.tenant),
        makeEvent({ id: envelopeId, tenant: u.tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'usageRecorded', usageRecorded: u }),
        { attempts: 20 },
      );

    const started = Date.now();
    let n = 0;
    const load = (async () => {
      while (Date.now() - started < LOAD_MS) {
        const tick = Date.now();
        const wave: Promise<unknown>[] = [];
        for (let i = 0; i < PER_SECOND / 10; i++, n++) {
          const u = usage(n);
          published.add(u.usageId);
          wave.push(publish(u, u.usageId));
          if (n % 20 === 0) wave.push(publish(u, u.usageId));
          if (n % 50 === 7 && n > 100) {
            const earlier = usage(n - 100);
            wave.push(publish(earlier, `replay-${earlier.usageId}`));
          }
        }
        await Promise.all(wave);
        await sleep(Math.max(0, 100 - (Date.now() - tick)));
      }
    })();

    const kills = { billing: 0, metering: 0 };
    const chaos = async (proc: ProcessServer, name: keyof typeof kills, at: readonly number[]) => {
      for (const t of at) {
        await sleep(Math.max(0, started + t - Date.now()));
        await proc.kill();
        kills[name]++;
        await sleep(250);
        await proc.restart();
      }
    };
    await Promise.all([load, chaos(billing, 'billing', [4_000, 14_000, 24_000, 34_000, 44_000]), chaos(metering, 'metering', [9_000, 26_000, 40_000])]);
    const loadMs = Date.now() - started;
    expect(kills).toEqual({ billing: 5, metering: 3 });

    const jsm = await jetstreamManager(nc);
    const settled = async () => {
      const [b, m] = await Promise.all([jsm.consumers.info(streams.BILLING.name, 'billing'), jsm.consumers.info(streams.USAGE.name, 'metering')]);
      return b.num_pending + b.num_ack_pending + m.num_pending + m.num_ack_pending === 0;
    };
    await waitFor(
      'every usage billed and every message acked',
      async () => {
        const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'usage'`;
        return Number(r!.n) >= published.size && (await settled()) ? true : undefined;
      },
      40_000,
    );

    const rows = await sql<{ usage_id: string }[]>`SELECT usage_id FROM ledger_transactions WHERE kind = 'usage'`;
    const billed = new Set(rows.map((r) => r.usage_id));
    const lost = [...published].filter((id) => !billed.has(id));
    const [metered] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM metered_usage`;
    const deadLetters = (await jsm.streams.info(streams.DEADLETTER.name)).state.messages;
    expect({ transactions: rows.length, duplicates: rows.length - billed.size, lost: lost.length, metered: Number(metered!.n), deadLetters }).toEqual({
      transactions: published.size,
      duplicates: 0,
      lost: 0,
      metered: published.size,
      deadLetters: 0,
    });

    // The operator's command, as an operator runs it.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        'tools/cli/bin/switchyard.js',
        'reconcile',
        '--database-url',
        pg.url,
        '--nats-url',
        nats.url,
        '--from',
        new Date(started - 3_600_000).toISOString(),
        '--to',
        new Date().toISOString(),
        '--json',
      ],
      { cwd: ROOT },
    );
    const report = JSON.parse(stdout) as { ok: boolean; tokenDifference: number; differences: unknown[]; ledger: { requests: number } };
    expect({ ok: report.ok, tokenDifference: report.tokenDifference, differences: report.differences, requests: report.ledger.requests }).toEqual({
      ok: true,
      tokenDifference: 0,
      differences: [],
      requests: published.size,
    });
    console.log(
      `billing/metering chaos: ${published.size} completed requests over ${(loadMs / 1000).toFixed(0)} s, billing killed ${kills.billing}x, metering ${kills.metering}x; ${rows.length} ledger transactions, 0 duplicates, 0 lost, reconciliation difference 0`,
    );
  }, 150_000);
});
