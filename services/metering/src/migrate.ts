import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';

const DEFAULT_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
/** Shared by every metering replica (and distinct from billing's); serialises concurrent migrations. */
const LOCK_KEY = 0x5357_4d54;

/**
 * Applies metering's `NNN_name.sql` files not yet recorded in `metering_migrations`, under
 * an advisory lock so replicas starting together migrate once. Metering keeps its own
 * record so it can share a database with billing without their versions colliding.
 */
export async function migrate(sql: Sql, dir = DEFAULT_DIR): Promise<string[]> {
  const files = readdirSync(dir).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS metering_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await tx<{ version: string }[]>`SELECT version FROM metering_migrations`).map((r) => r.version));
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(readFileSync(`${dir}/${file}`, 'utf8'));
      await tx`INSERT INTO metering_migrations (version) VALUES (${file})`;
      applied.push(file);
    }
  });
  return applied;
}
