export { runMigrations } from './run-migrations.js';
export type { MigrationSet } from './run-migrations.js';
