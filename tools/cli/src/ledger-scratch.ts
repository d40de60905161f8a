import { migrate } from '@switchyard/billing';
import type { Sql } from 'postgres';

/** Which server and database a connection reached, whatever its URL spelled. */
async function identity(sql: Sql): Promise<string> {
  const [row] = await sql<{ db: string; port: number | null; started: Date; addr: string | null }[]>`
    SELECT current_database() AS db, inet_server_port() AS port, pg_postmaster_start_time() AS started, host(inet_server_addr()) AS addr`;
  // The start time tells servers apart that an address cannot (localhost and 127.0.0.1, a socket).
  return `${row!.db}@${row!.started.toISOString()}:${row!.port ?? 'socket'}`;
}

/**
 * Makes the scratch database ready for a rebuild: refuses the live database however it is
 * spelled, refuses one that holds any table unless `force` (then drops its `public` schema,
 * everything in it), and applies billing's own migrations.
 */
export async function prepareScratch(live: Sql, scratch: Sql, o: { force: boolean }): Promise<void> {
  const [a, b] = await Promise.all([identity(live), identity(scratch)]);
  if (a === b) throw new Error('--into names the live ledger database: rebuild into a separate scratch database (e.g. createdb switchyard_rebuild)');
  const [{ tables } = { tables: 0 }] = await scratch<{ tables: number }[]>`
    SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`;
  if (tables > 0) {
    if (!o.force) throw new Error(`the scratch database is not empty (${tables} tables): pass --force to wipe it, or name an empty one`);
    // Only the schema billing's migrations write to; a forced scratch is a rebuild's own.
    await scratch.unsafe('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  }
  await migrate(scratch);
}
