import { fileURLToPath } from 'node:url';
import { runMigrations } from '@switchyard/db';
import type { Sql } from 'postgres';

const DEFAULT_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/**
 * Applies metering's migrations. Metering records them in its own table (and lock), so it
 * can share a database with billing without their versions colliding.
 */
export const migrate = (sql: Sql, dir = DEFAULT_DIR): Promise<string[]> => runMigrations(sql, { dir, table: 'metering_migrations', lockKey: 0x5357_4d54 });
