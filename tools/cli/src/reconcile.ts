import { InvalidArgumentError, type Command } from 'commander';
import postgres from 'postgres';
import { formatReport, loadCatalog, reconcileLedger } from '@switchyard/billing';
import { connectBus, jetstream, type NatsConnection } from '@switchyard/bus';
import { instant } from './cli-arguments.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/switchyard';
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

const hours = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of hours');
  return n;
};

export interface ReconcileOptions {
  readonly from?: number;
  readonly to?: number;
  readonly hours: number;
  readonly tenant?: string;
  readonly json?: boolean;
  readonly databaseUrl?: string;
  readonly natsUrl?: string;
  /** Hold LIFECYCLE's completed requests against metered usage. Default true. */
  readonly lifecycle?: boolean;
}

/**
 * Proves metered quantities equal ledger quantities per tenant and hour, that the ledger
 * balances, and that every request LIFECYCLE says completed was metered (but for the last
 * minute's, which metering may not have caught up with); prints every difference and exits 1
 * when there is any.
 */
export async function reconcileCommand(o: ReconcileOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const sql = postgres(o.databaseUrl ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL, { max: 4, onnotice: () => {} });
  let nc: NatsConnection | undefined;
  try {
    const endMs = o.to ?? Date.now();
    const startMs = o.from ?? endMs - o.hours * 3_600_000;
    if (o.lifecycle ?? true) {
      const natsUrl = o.natsUrl ?? env.NATS_URL ?? DEFAULT_NATS_URL;
      nc = await connectBus({ url: natsUrl, name: 'switchyard-reconcile' }).catch((e: unknown) => {
        throw new Error(`cannot reach NATS at ${natsUrl} to read LIFECYCLE (pass --nats-url, or --no-lifecycle to skip that check)`, { cause: e });
      });
    }
    const books = new Map((await loadCatalog(sql)).map((b) => [b.version, b]));
    const report = await reconcileLedger(sql, { startMs, endMs, tenant: o.tenant, books, lifecycle: nc ? { js: jetstream(nc) } : undefined });
    console.log(o.json ? JSON.stringify(report, null, 2) : formatReport(report));
    if (!report.ok) process.exitCode = 1;
  } finally {
    await nc?.close();
    await sql.end();
  }
}

export function registerReconcileCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('reconcile')
    .description(
      'check completed requests (LIFECYCLE) against metered usage, metered usage against the ledger per tenant and hour, and that the ledger balances (exit 1 on any difference)',
    )
    .option('--from <time>', 'window start (ISO time); default --hours before --to', instant)
    .option('--to <time>', 'window end (ISO time); default now', instant)
    .option('--hours <n>', 'window length when --from is not given', hours, 24)
    .option('--tenant <tenant>', "only this tenant's quantities (ledger-wide checks still run)")
    .option('--database-url <url>', 'PostgreSQL of the ledger; default $DATABASE_URL or the local one')
    .option('--nats-url <url>', 'NATS holding the LIFECYCLE stream; default $NATS_URL or the local one')
    .option('--no-lifecycle', 'skip the check of completed requests against metered usage')
    .option('--json', 'print the full report as JSON')
    .action((o) =>
      reconcileCommand(
        { from: o.from, to: o.to, hours: o.hours, tenant: o.tenant, json: o.json, databaseUrl: o.databaseUrl, natsUrl: o.natsUrl, lifecycle: o.lifecycle },
        env,
      ),
    );
}
