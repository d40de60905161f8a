import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from 'postgres';

export interface MigrationSet {
  /** Folder of `NNN_name.sql` files, applied in name order. */
  readonly dir: string;
  /** Table recording what was applied; one per service, so services can share a database. */
  readonly table: string;
  /** Advisory lock key, the same for every replica of the service. */
  readonly lockKey: number;
}

/**
 * Applies the files not yet recorded, in one transaction under an advisory lock, so
 * replicas starting together migrate once and a failed file leaves nothing half-applied.
 * Returns the files applied now.
 */
export async function runMigrations(sql: Sql, set: MigrationSet): Promise<string[]> {
  if (!/^[a-z_]+$/.test(set.table)) throw new Error(`migration table "${set.table}" must be lower-case letters and "_"`);
  const files = readdirSync(set.dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${set.lockKey})`;
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${set.table} (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.unsafe<{ version: string }[]>(`SELECT version FROM ${set.table}`)).map((r) => r.version));
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(readFileSync(join(set.dir, file), 'utf8'));
      await tx.unsafe(`INSERT INTO ${set.table} (version) VALUES ($1)`, [file]);
      applied.push(file);
    }
  });
  return applied;
}
