import { startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableConflict, retryConflicts } from './retry-conflicts.js';

let pg: TestServer;
let sql: Sql;

beforeAll(async () => {
  pg = await startPostgres();
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  await sql`CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)`;
}, 60_000);
afterAll(async () => {
  await sql?.end();
  await pg?.dispose();
});

/** Two SERIALIZABLE increments that both read the row before either writes it: one must fail with 40001. */
async function racingIncrements(run: (increment: () => Promise<void>) => Promise<void>) {
  await sql`INSERT INTO counters (id, n) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET n = 0`;
  let arrived = 0;
  let release!: () => void;
  const bothRead = new Promise<void>((resolve) => (release = resolve));
  const increment = () =>
    sql
      .begin('isolation level serializable', async (tx) => {
        const [row] = await tx<{ n: number }[]>`SELECT n FROM counters WHERE id = 1`;
        // Only the first round waits for the other: a retry reads and writes on its own.
        if (arrived < 2 && ++arrived <= 2) {
          if (arrived === 2) release();
          await bothRead;
        }
        await tx`UPDATE counters SET n = ${row!.n + 1} WHERE id = 1`;
      })
      .then(() => undefined);
  await Promise.allSettled([run(increment), run(increment)]).then((results) => {
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
  const [row] = await sql<{ n: number }[]>`SELECT n FROM counters WHERE id = 1`;
  return row!.n;
}

describe('retryConflicts', () => {
  it('without it, one of two racing serializable transactions fails with a serialization failure', async () => {
    const error = await racingIncrements((increment) => increment()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe('40001');
    expect(isRetryableConflict(error)).toBe(true);
  });

  it('runs the loser again, so both increments land', async () => {
    expect(await racingIncrements((increment) => retryConflicts(increment))).toBe(2);
  });

  it('throws any other error at once, and a conflict after the last attempt', async () => {
    let calls = 0;
    const other = Object.assign(new Error('unique violation'), { code: '23505' });
    await expect(
      retryConflicts(async () => {
        calls++;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
    calls = 0;
    const conflict = Object.assign(new Error('deadlock'), { code: '40P01' });
    await expect(
      retryConflicts(async () => {
        calls++;
        throw conflict;
      }, 3),
    ).rejects.toBe(conflict);
    expect(calls).toBe(3);
    expect(isRetryableConflict(null)).toBe(false);
    expect(isRetryableConflict(undefined)).toBe(false);
  });
});
