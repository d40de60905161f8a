import { fileURLToPath } from 'node:url';
import { runMigrations } from '@switchyard/db';
import type { Sql } from 'postgres';

const DEFAULT_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Applies the ledger's migrations (`schema_migrations`), once across replicas. */
export const migrate = (sql: Sql, dir = DEFAULT_DIR): Promise<string[]> => runMigrations(sql, { dir, table: 'schema_migrations', lockKey: 0x5357_4954 });
