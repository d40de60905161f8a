import { Option, type Command } from 'commander';
import { connectBus, jetstream, type JetStreamClient } from '@switchyard/bus';
import { AUDIT_ACTIONS, decodeEvent, filters, streams, type AuditAction } from '@switchyard/contracts';
import { auditRow, auditTable, matchesAudit, type AuditFilter, type AuditRow } from './domain/audit-rows.js';
import { replayWindow } from './domain/replay-window.js';
import { readWindow } from './replay-read.js';
import { table } from './table.js';

export interface AuditQuery extends AuditFilter {
  readonly sinceMs: number;
  readonly untilMs: number;
}

/**
 * The AUDIT events of a window, oldest first, read with an ephemeral ordered consumer (as a
 * replay reads), filtered on the server by action and here by actor.
 */
export async function readAudit(js: JetStreamClient, q: AuditQuery): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  const filter = q.action === undefined ? filters.allAudit : filters.auditOf(q.action as AuditAction);
  await readWindow(js, { stream: streams.AUDIT.name, filter, sinceMs: q.sinceMs, untilMs: q.untilMs }, (m) => {
    const payload = decodeEvent(m.data).payload;
    if (payload?.$case === 'auditRecorded' && matchesAudit(payload.auditRecorded, q)) rows.push(auditRow(payload.auditRecorded));
  });
  return rows;
}

export const AUDIT_FORMATS = ['table', 'ndjson'] as const;

/** The rows as `switchyard audit` prints them. */
export function formatAudit(rows: readonly AuditRow[], format: (typeof AUDIT_FORMATS)[number]): string {
  if (format === 'ndjson') return rows.map((r) => JSON.stringify(r)).join('\n');
  return rows.length === 0 ? 'no audit events in this window' : table(auditTable(rows));
}

/** `switchyard audit`: who changed what, when, before and after, allowed or denied. */
export function registerAuditCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('audit')
    .description('list operator actions (drains, routes, budgets, credit, keys, limits, policies), allowed and denied, from the AUDIT stream')
    .option('--since <time>', 'window start: ISO time (UTC unless zoned), "now", or a duration ago (90s, 30m, 1h, 7d)', '1h')
    .option('--until <time>', 'window end, same forms; default now')
    .option('--actor <keyId>', 'only this API key id (or the CLI actor, cli:user@host)')
    .addOption(new Option('--action <action>', 'only this action').choices(AUDIT_ACTIONS))
    .addOption(new Option('--format <format>', 'output format').choices(AUDIT_FORMATS).default('table'))
    .option('--nats-url <url>', 'NATS holding the streams; default $NATS_URL or the local one')
    .action(async (o: { since: string; until?: string; actor?: string; action?: string; format: (typeof AUDIT_FORMATS)[number]; natsUrl?: string }) => {
      const window = replayWindow(o.since, o.until, Date.now());
      const url = o.natsUrl ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';
      const nc = await connectBus({ url, name: 'switchyard-audit' }).catch((e: unknown) => {
        throw new Error(`cannot reach NATS at ${url} (set NATS_URL or pass --nats-url)`, { cause: e });
      });
      try {
        const rows = await readAudit(jetstream(nc), { ...window, actor: o.actor, action: o.action });
        console.log(formatAudit(rows, o.format));
      } finally {
        await nc.close();
      }
    });
}
