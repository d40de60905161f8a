import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import postgres, { type Sql } from 'postgres';
import { poolCostsOf } from '@switchyard/billing';
import { connectBus, jetstream, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { diffLedgers, formatDiff, type LedgerDiff } from './ledger-diff.js';
import { replayLedger, type ReplayResult } from './ledger-replay.js';
import { prepareScratch } from './ledger-scratch.js';
import { AGGREGATE_KINDS, countKinds, readLedger } from './ledger-snapshot.js';
import { REPO_ROOT } from './stack.js';
import { instant } from './cli-arguments.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/switchyard';
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Kinds no rebuild writes, and why: the report names them with their live counts. */
const NOT_REBUILT = {
  reservation_fee: 'reservation fees are charged per elapsed hour by a timer that also draws prepaid credit; not re-run by this rebuild (issue #19 follow-up)',
  gpu_idle: 'idle GPU time comes from sampled worker heartbeats (fleet_minutes), which no durable stream holds: it cannot be re-derived',
} as const;

export interface LedgerRebuildOptions {
  /** Scratch database to rebuild into; never the live one. */
  readonly into: string;
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /** Wipe a scratch database that already holds tables. Default false. */
  readonly force?: boolean;
  readonly databaseUrl?: string;
  readonly natsUrl?: string;
  /** Pools file billing ran with; default $POOLS_FILE, else deploy/pools.yaml. */
  readonly pools?: string;
}

export interface LedgerRebuildReport {
  readonly ok: boolean;
  readonly window: { readonly sinceMs?: number; readonly untilMs?: number };
  readonly replay: ReplayResult;
  readonly diff: LedgerDiff;
  /** What was not compared, or compared only in sum, and why. */
  readonly notes: string[];
}

/**
 * Rebuilds the ledger into `into` and diffs it against the live one. Both connections run in
 * UTC so times in the compared columns print alike.
 */
export async function rebuildLedger(o: LedgerRebuildOptions, env: NodeJS.ProcessEnv): Promise<LedgerRebuildReport> {
  const connect = (url: string) => postgres(url, { max: 2, onnotice: () => {}, connection: { TimeZone: 'UTC' } });
  const liveUrl = o.databaseUrl ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  if (o.into === liveUrl) throw new Error('--into names the live ledger database: rebuild into a separate scratch database (e.g. createdb switchyard_rebuild)');
  const poolsPath = o.pools ?? env.POOLS_FILE ?? join(REPO_ROOT, 'deploy', 'pools.yaml');
  if (!existsSync(poolsPath)) throw new Error(`no pools file at ${poolsPath}; pass --pools with the file billing runs with`);
  const live = connect(liveUrl);
  const scratch = connect(o.into);
  let nc: NatsConnection | undefined;
  try {
    await prepareScratch(live, scratch, { force: o.force ?? false });
    const natsUrl = o.natsUrl ?? env.NATS_URL ?? DEFAULT_NATS_URL;
    nc = await connectBus({ url: natsUrl, name: 'switchyard-ledger-rebuild' }).catch((e: unknown) => {
      throw new Error(`cannot reach NATS at ${natsUrl} to read USAGE (pass --nats-url)`, { cause: e });
    });
    const window = { sinceMs: o.sinceMs, untilMs: o.untilMs };
    const replay = await replayLedger({ js: jetstream(nc), live, scratch, pools: poolCostsOf(loadPoolsFile(poolsPath)) }, window);
    const whole = o.sinceMs === undefined && o.untilMs === undefined;
    const diff = await diffLedgers(readLedger(live, { ...window, aggregates: whole }), readLedger(scratch, { ...window, aggregates: whole }));
    const notes = await explain(live, replay, whole);
    return { ok: diff.differences.length === 0, window, replay, diff, notes };
  } finally {
    await nc?.close();
    await Promise.all([live.end(), scratch.end()]);
  }
}

async function explain(live: Sql, replay: ReplayResult, whole: boolean): Promise<string[]> {
  const notes = [
    `rebuilt ${replay.posted} usage transactions from ${replay.usageEvents} USAGE events, ${replay.creditPurchases} credit purchases and ${replay.reversals} reversals from the live database`,
  ];
  if (replay.usageFromMs !== undefined)
    notes.push(`USAGE holds events stored since ${new Date(replay.usageFromMs).toISOString()}: older usage cannot be rebuilt and shows as missing in rebuild`);
  if (whole) notes.push(`${AGGREGATE_KINDS.join(' and ')} are compared as sums per pool and per tenant and month: their ids name the posting batch`);
  else notes.push(`${AGGREGATE_KINDS.join(' and ')} are not compared over a window: they depend on the ledger before it and on batching`);
  const excluded = await countKinds(live, Object.keys(NOT_REBUILT));
  for (const [kind, why] of Object.entries(NOT_REBUILT)) notes.push(`${kind} not compared (${excluded.get(kind) ?? 0} in live): ${why}`);
  if (whole && (excluded.get('reservation_fee') ?? 0) > 0)
    notes.push('credit_applied can differ for tenants whose reservation fees drew prepaid credit live, since those fees are not rebuilt');
  if (replay.skipped.count) notes.push(`${replay.skipped.count} input(s) not posted: ${replay.skipped.first.join('; ')}`);
  return notes;
}

export function registerLedgerCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const ledger = program.command('ledger').description('the billing ledger');
  ledger
    .command('rebuild')
    .description(
      're-derive the ledger from USAGE (through metering and billing code) and billing inputs into a scratch database, and diff it against the live ledger transaction by transaction (exit 1 on any difference)',
    )
    .requiredOption('--into <url>', 'scratch PostgreSQL database to rebuild into (must not be the live one; emptied only with --force)')
    .option('--since <time>', 'only usage recorded (credit purchased) at or after this ISO time; default everything', instant)
    .option('--until <time>', 'only usage recorded (credit purchased) before this ISO time; default everything', instant)
    .option('--force', 'wipe a scratch database that already holds tables')
    .option('--database-url <url>', 'live ledger PostgreSQL; default $DATABASE_URL or the local one')
    .option('--nats-url <url>', 'NATS holding the USAGE stream; default $NATS_URL or the local one')
    .option('--pools <file>', 'pools file billing runs with (GPU cost); default $POOLS_FILE, else deploy/pools.yaml')
    .option('--json', 'print the full report as JSON')
    .action(async (o) => {
      const report = await rebuildLedger(
        { into: o.into, sinceMs: o.since, untilMs: o.until, force: o.force, databaseUrl: o.databaseUrl, natsUrl: o.natsUrl, pools: o.pools },
        env,
      );
      console.log(o.json ? JSON.stringify(report, null, 2) : formatDiff(report.diff, report.notes));
      if (!report.ok) process.exitCode = 1;
    });
}
