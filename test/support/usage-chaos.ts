import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateApiKey, hashApiKey } from '@switchyard/auth';
import { jetstream, jetstreamManager, publishEvent, type NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { waitFor, type ProcessServer } from '@switchyard/testing';
import type { Sql } from 'postgres';
import { expect } from 'vitest';
import { startServiceProcess } from './service-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The usage record a worker publishes for completed request `n` of a chaos run, on one of `pools`. */
export function chaosUsage(n: number, pools: readonly PoolSpec[]): UsageRecorded {
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
}

/**
 * Publishes `perSecond` usage records (one per completed request) into USAGE for `durationMs`,
 * as workers do, and resolves with their usage ids. Every 20th is published twice under the
 * same msgID (a publish retry the duplicate window catches) and every 50th replays an earlier
 * one under another envelope id (a replay it cannot), so exactly-once is the ledger's own doing.
 */
export async function feedUsage(nc: NatsConnection, pools: readonly PoolSpec[], perSecond: number, durationMs: number): Promise<Set<string>> {
  const js = jetstream(nc);
  const published = new Set<string>();
  const publish = (u: UsageRecorded, envelopeId: string) =>
    publishEvent(
      js,
      subjects.usageRecorded(u.tenant),
      makeEvent({ id: envelopeId, tenant: u.tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'usageRecorded', usageRecorded: u }),
      { attempts: 20 },
    );
  const started = Date.now();
  for (let n = 0; Date.now() - started < durationMs;) {
    const tick = Date.now();
    const wave: Promise<unknown>[] = [];
    for (let i = 0; i < perSecond / 10; i++, n++) {
      const u = chaosUsage(n, pools);
      published.add(u.usageId);
      wave.push(publish(u, u.usageId));
      if (n % 20 === 0) wave.push(publish(u, u.usageId));
      if (n % 50 === 7 && n > 100) {
        const earlier = chaosUsage(n - 100, pools);
        wave.push(publish(earlier, `replay-${earlier.usageId}`));
      }
    }
    await Promise.all(wave);
    await sleep(Math.max(0, 100 - (Date.now() - tick)));
  }
  return published;
}

export interface LedgerFigures {
  readonly transactions: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly unbalanced: number;
  readonly metered: number;
  readonly deadLetters: number;
}

/**
 * Waits until metering and billing have caught up (their durables drained, a usage transaction
 * per published record), then checks the ledger's promises: one transaction per usage record,
 * none twice, none lost, every transaction's debits equal its credits, metered = billed, no dead
 * letters; and `switchyard reconcile`, run as an operator runs it, reports 0 differences.
 */
export async function expectBilledExactlyOnce(o: {
  readonly nc: NatsConnection;
  readonly sql: Sql;
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly published: ReadonlySet<string>;
  readonly sinceMs: number;
  readonly timeoutMs?: number;
  /** Dead letters the run parked on purpose (poison). Default 0. */
  readonly deadLetters?: number;
}): Promise<LedgerFigures> {
  const { sql, published } = o;
  const jsm = await jetstreamManager(o.nc);
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
    o.timeoutMs ?? 40_000,
  );
  const rows = await sql<{ usage_id: string }[]>`SELECT usage_id FROM ledger_transactions WHERE kind = 'usage'`;
  const billed = new Set(rows.map((r) => r.usage_id));
  const [unbalanced] = await sql<{ n: string }[]>`
    SELECT count(*) AS n FROM (
      SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
      HAVING sum(CASE WHEN side = 'debit' THEN amount_micros ELSE 0 END) <> sum(CASE WHEN side = 'credit' THEN amount_micros ELSE 0 END)
    ) t`;
  const [metered] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM metered_usage`;
  const figures: LedgerFigures = {
    transactions: rows.length,
    duplicates: rows.length - billed.size,
    lost: [...published].filter((id) => !billed.has(id)).length,
    unbalanced: Number(unbalanced!.n),
    metered: Number(metered!.n),
    deadLetters: (await jsm.streams.info(streams.DEADLETTER.name)).state.messages,
  };
  expect(figures).toEqual({ transactions: published.size, duplicates: 0, lost: 0, unbalanced: 0, metered: published.size, deadLetters: o.deadLetters ?? 0 });

  const report = await runReconcile(o.databaseUrl, o.natsUrl, o.sinceMs);
  expect({ ok: report.ok, tokenDifference: report.tokenDifference, differences: report.differences, requests: report.ledger.requests }).toEqual({
    ok: true,
    tokenDifference: 0,
    differences: [],
    requests: published.size,
  });
  return figures;
}

export interface ReconcileReport {
  readonly ok: boolean;
  readonly tokenDifference: number;
  readonly differences: readonly unknown[];
  readonly ledger: { readonly requests: number };
}

/** `switchyard reconcile --json` from an hour before `sinceMs` to now, as an operator runs it. */
export async function runReconcile(databaseUrl: string, natsUrl: string, sinceMs: number): Promise<ReconcileReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      'tools/cli/bin/switchyard.js',
      'reconcile',
      '--database-url',
      databaseUrl,
      '--nats-url',
      natsUrl,
      '--from',
      new Date(sinceMs - 3_600_000).toISOString(),
      '--to',
      new Date().toISOString(),
      '--json',
    ],
    { cwd: ROOT },
  );
  return JSON.parse(stdout) as ReconcileReport;
}

/** Billing and metering as their own processes on `nats` and `pg`, as chaos tests kill them; billing does not reconcile on its own. */
export function startLedgerServices(natsUrl: string, databaseUrl: string): Promise<[billing: ProcessServer, metering: ProcessServer]> {
  const env = {
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    POOLS_FILE: fileURLToPath(new URL('../../deploy/pools.yaml', import.meta.url)),
    BILLING_LISTEN: '127.0.0.1:0',
    BILLING_RECONCILE_EVERY_MS: '0',
    API_KEYS: `acme:chaos:${hashApiKey(generateApiKey())}`,
  };
  return Promise.all([startServiceProcess('billing', env), startServiceProcess('metering', env)]);
}
