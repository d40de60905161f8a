import { status, type ServiceError } from '@grpc/grpc-js';
import { streams } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { Redis } from 'ioredis';
import OpenAI, { toFile } from 'openai';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchEnded, chatLines, readResultLines } from '../support/batch-files.js';
import { readStream } from '../support/read-stream.js';
import { checkRequestInvariants, expectInvariantsHold } from '../support/request-invariants.js';
import { startSystem, type RunningSystem } from '../support/system.js';
import { tenantClients } from '../support/tenant-client.js';
import { expectBilledExactlyOnce } from '../support/usage-chaos.js';

/**
 * Issue #23, scenario 3: kill -9 of Redis mid-load, back after 2 s, first on its data (an
 * append-only file, as the compose file's Redis keeps) and then without it (an empty
 * directory: a new Redis). Rate limits, budgets, request state and idempotency keys live in
 * Redis; the BullMQ queues of the batch tier too. After each return:
 * - a tenant over its requests/min limit is refused again (RESOURCE_EXHAUSTED);
 * - a tenant whose ledger spend sits at its hard budget is refused: the spend comes from the
 *   ledger (billing publishes it), not from Redis, so even an empty Redis forgets none of it;
 * - the BullMQ workers take work again within 10 s of the return, and the batch submitted
 *   before the kill completes, each line one result and one bill;
 * and over the whole run every admitted request ends exactly once and every completed request
 * is billed exactly once (ledger balanced, metered = billed, reconcile 0).
 */

const CALLERS = 4;
const DOWN_MS = 2_000;
const RATE_LIMIT = 3;
const BATCH_LINES = 300;

let system: RunningSystem;
const { clientFor, track, closeAll } = tenantClients(() => system);

beforeAll(async () => {
  system = await startSystem({
    redis: { appendOnly: true },
    inFlightPerTenant: { batch: 64 },
    batch: {},
    // A short grace, so admission counts the ledger's spend within the test.
    provisionalGraceMs: 300,
    tenants: [{ tenant: 'limited', limits: { realtime: { requestsPerMinute: RATE_LIMIT, tokensPerMinute: 100_000 } } }],
  });
}, 60_000);
afterAll(async () => {
  closeAll();
  await system?.stop();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: ServiceError) => `${status[e.code]}: ${e.details}`,
  );

/** The first answer that is not "Redis unavailable": what the tenant gets once Redis serves again. */
const answerOnceServing = (call: () => Promise<string>) =>
  waitFor('an answer other than UNAVAILABLE', async () => {
    const o = await call();
    return o.startsWith('UNAVAILABLE') ? undefined : o;
  });

/** What the ledger charged a tenant (debits to its own accounts), in micros. */
async function ledgerSpend(tenant: string): Promise<number> {
  const [row] = await system.sql<{ micros: string | null }[]>`
    SELECT sum(e.amount_micros) FILTER (WHERE e.side = 'debit' AND e.account_id LIKE ${`tenant:${tenant}:%`}) AS micros
      FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id WHERE t.tenant = ${tenant}`;
  return Number(row!.micros ?? 0);
}

describe('chaos: kill -9 of Redis mid-load, back with and without its data', () => {
  it('rate limits and budgets hold again, BullMQ resumes within 10 s, the batch completes, no request is lost', async () => {
    const started = Date.now();
    const openai = new OpenAI({ apiKey: system.apiKey, baseURL: system.httpUrl, maxRetries: 5 });

    // A tenant whose ledger spend sits at its hard budget: any request is refused by the month's spend alone.
    const frugal = await clientFor('frugal');
    const spend = (i: number) => outcome(frugal.complete({ model: 'llama-3.1-8b', prompt: `spend ${i} ${'y'.repeat(40)}`, maxTokens: 16 }));
    await system.setBudget('frugal', { hardLimitMicros: 1_000_000 });
    await waitFor('budget known to admission', () => system.admissions[0]!.budgetSpend('frugal'));
    for (let i = 0; i < 3; i++) expect(await spend(i)).toBe('ok');
    const settledSpend = () =>
      waitFor('the ledger spend published and counted', async () => {
        const l = await ledgerSpend('frugal');
        const s = await system.admissions[0]!.budgetSpend('frugal');
        return s && l > 0 && s.spentMicros === l && s.reservedMicros === 0 ? l : undefined;
      });
    const spent = await settledSpend();
    await system.setBudget('frugal', { hardLimitMicros: spent + 1 });
    const budgetRefusal = /^RESOURCE_EXHAUSTED: monthly budget of tenant frugal would be exceeded/;
    const refused = await waitFor('the limit enforced', async () => {
      const o = await spend(99);
      return o === 'ok' ? undefined : o;
    });
    expect(refused).toMatch(budgetRefusal);

    // A tenant with a low requests/min limit.
    const limited = await clientFor('limited');
    const rateRefusal = new RegExp(`^RESOURCE_EXHAUSTED: .*realtime requests/min \\(${RATE_LIMIT}\\)`);
    /** Calls until the limit refuses one; how many it let through first. */
    const admittedUntilRefused = async () => {
      for (let allowed = 0; allowed <= RATE_LIMIT; allowed++) {
        const o = await answerOnceServing(() => outcome(limited.complete({ model: 'llama-3.1-8b', prompt: 'limited', maxTokens: 4 })));
        if (o !== 'ok') return { allowed, refusal: o };
      }
      return { allowed: RATE_LIMIT + 1, refusal: 'none' };
    };
    expect((await admittedUntilRefused()).refusal).toMatch(rateRefusal);

    // A steady load on tenant acme.
    const load = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    track(load);
    const calls: { startedMs: number; endedMs: number; outcome: string }[] = [];
    let running = true;
    const caller = async () => {
      while (running) {
        const startedMs = Date.now();
        const o = await outcome(load.complete({ model: 'llama-3.1-8b', prompt: 'steady load', maxTokens: 8, timeoutMs: 5_000 }));
        calls.push({ startedMs, endedMs: Date.now(), outcome: o.split(':')[0]! });
        if (o !== 'ok') await sleep(50);
      }
    };
    const callers = Array.from({ length: CALLERS }, caller);
    // BullMQ's own record of finished work (its event stream, ids are Redis's clock in ms), as an operator watches a queue.
    const observer = new Redis(system.servers.redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    observer.on('error', () => {});
    const firstCompletedAfter = (ms: number) =>
      waitFor(
        'a batch line job completed after the return',
        async () => {
          const events = await observer.xrange('bull:switchyard-batch-requests:events', String(ms), '+');
          const done = events.find(([, fields]) => fields[fields.indexOf('event') + 1] === 'completed');
          return done && Number(done[0].split('-')[0]);
        },
        10_000,
      ).catch(() => undefined);

    const batches: { id: string; mode: string }[] = [];
    const figures: string[] = [];
    try {
      for (const mode of ['with its data', 'without its data'] as const) {
        const file = await openai.files.create({
          file: await toFile(Buffer.from(chatLines(BATCH_LINES, `r${batches.length}`)), 'restart.jsonl'),
          purpose: 'batch',
        });
        const { id } = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
        batches.push({ id, mode });
        await waitFor(`batch ${id} under way`, async () => ((await openai.batches.retrieve(id)).request_counts!.completed >= 20 ? true : undefined), 30_000);

        await system.servers.redis.process!.kill();
        await sleep(DOWN_MS);
        await system.servers.redis.process!.restart({ withoutData: mode === 'without its data' });
        const backAt = Date.now();

        // BullMQ workers at work again: a line's job completes after the return.
        const resumedAt = await firstCompletedAfter(backAt);
        const servedAt = await waitFor(
          'a call started after the return served',
          () => calls.find((c) => c.startedMs >= backAt && c.outcome === 'ok')?.endedMs,
          10_000,
        ).catch(() => undefined);
        const rate = await admittedUntilRefused();
        const budget = await answerOnceServing(() => spend(100));
        figures.push(
          `${mode}: BullMQ completed a job ${resumedAt ? resumedAt - backAt : 'never'} ms after the return, a new call served after ${servedAt ? servedAt - backAt : 'never'} ms; ` +
            `the rate-limited tenant got ${rate.allowed} more before RESOURCE_EXHAUSTED; the tenant at its budget refused`,
        );
        console.log(figures.at(-1));
        expect(resumedAt, `BullMQ workers resume within 10 s of Redis's return (${mode})`).toBeDefined();
        expect(resumedAt! - backAt).toBeLessThanOrEqual(10_000);
        expect(servedAt, `calls are served again (${mode})`).toBeDefined();
        expect(rate.refusal).toMatch(rateRefusal);
        // On its data Redis still knew the tenant had used up its minute (a token refills every 20 s).
        if (mode === 'with its data') expect(rate.allowed).toBeLessThan(RATE_LIMIT);
        expect(budget).toMatch(budgetRefusal);
      }
      await sleep(1_000);
    } finally {
      running = false;
      await Promise.all(callers);
      observer.disconnect();
    }

    // Every call got an answer within its deadline (none hung on a lost Redis), and only answers a caller can act on.
    const slowest = Math.max(...calls.map((c) => c.endedMs - c.startedMs));
    expect(slowest).toBeLessThan(5_000 + 1_000);
    const byOutcome: Record<string, number> = {};
    for (const c of calls) byOutcome[c.outcome] = (byOutcome[c.outcome] ?? 0) + 1;
    for (const o of Object.keys(byOutcome)) expect(['ok', 'UNAVAILABLE']).toContain(o);

    // Each batch completes: one result per line, each billed once, no line run twice.
    let lines = 0;
    for (const { id, mode } of batches) {
      const done = await batchEnded(openai, id, 60_000);
      const outputs = await readResultLines(openai, done.output_file_id);
      const errors = await readResultLines(openai, done.error_file_id);
      expect({ mode, status: done.status, errors: errors.map((e) => e.error?.message ?? e.response?.body) }).toEqual({ mode, status: 'completed', errors: [] });
      expect(new Set(outputs.map((o) => o.custom_id)).size).toBe(BATCH_LINES);
      const requestIds = outputs.map((o) => o.response!.request_id);
      const billed = await waitFor(
        'billing posts every line',
        async () => {
          const rows = await system.sql<{ request_id: string; n: number }[]>`
            SELECT request_id, count(*)::int AS n FROM ledger_transactions WHERE kind = 'usage' AND request_id IN ${system.sql(requestIds)} GROUP BY request_id`;
          return rows.length >= requestIds.length ? rows : undefined;
        },
        30_000,
      );
      expect(billed.filter((r) => r.n !== 1)).toEqual([]);
      lines += outputs.length;
    }
    // Batch-tier requests billed and not in any output: a line run twice, its first run lost with Redis.
    const outputIds = new Set<string>();
    for (const { id } of batches)
      for (const o of await readResultLines(openai, (await openai.batches.retrieve(id)).output_file_id)) outputIds.add(o.response!.request_id);
    const batchBilled = await system.sql<{ request_id: string }[]>`SELECT DISTINCT request_id FROM ledger_transactions WHERE kind = 'usage' AND tier = 'batch'`;
    expect(batchBilled.filter((r) => !outputIds.has(r.request_id)).map((r) => r.request_id)).toEqual([]);

    const report = await checkRequestInvariants({
      nc: system.nc,
      sql: system.sql,
      natsUrl: system.servers.nats.url,
      databaseUrl: system.servers.postgres.url,
      sinceMs: started,
    });
    expectInvariantsHold(report);
    const usage = await readStream(system.nc, streams.USAGE.name);
    const ledger = await expectBilledExactlyOnce({
      nc: system.nc,
      sql: system.sql,
      databaseUrl: system.servers.postgres.url,
      natsUrl: system.servers.nats.url,
      published: new Set(usage.map((m) => (m.event.payload?.$case === 'usageRecorded' ? m.event.payload.usageRecorded.usageId : ''))),
      sinceMs: started,
    });

    console.log(
      `redis restarts: ${figures.join('; ')}. ${calls.length} calls ${JSON.stringify(byOutcome)}, slowest ${slowest} ms; ` +
        `${batches.length} batches of ${BATCH_LINES} lines completed, ${lines} results, each billed once; ` +
        `${report.admitted} admitted, each ended once; ${ledger.transactions} usage records billed once, ${ledger.unbalanced} unbalanced, metered ${ledger.metered}; reconcile 0`,
    );
  }, 150_000);
});
