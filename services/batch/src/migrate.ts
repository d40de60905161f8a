import { fileURLToPath } from 'node:url';
import { runMigrations } from '@switchyard/db';
import type { Sql } from 'postgres';

const DEFAULT_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Applies the batch service's migrations (`batch_schema_migrations`), once across replicas. */
export const migrate = (sql: Sql, dir = DEFAULT_DIR): Promise<string[]> => runMigrations(sql, { dir, table: 'batch_schema_migrations', lockKey: 0x5359_4254 });
