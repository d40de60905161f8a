import { jetstreamManager, type NatsConnection } from '@switchyard/bus';
import type { Sql } from 'postgres';

/**
 * How many messages were ever published to each stream (its last sequence, so work-queue
 * streams that delete acked messages count too). KV buckets are left out: heartbeats write
 * them all the time.
 */
export async function publishedPerStream(nc: NatsConnection): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const counts: Record<string, number> = {};
  for await (const si of jsm.streams.list()) {
    if (!si.config.name.startsWith('KV_')) counts[si.config.name] = si.state.last_seq;
  }
  return counts;
}

/** Ledger transactions posted so far, of every kind. */
export async function ledgerTransactions(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions`;
  return Number(row!.n);
}
