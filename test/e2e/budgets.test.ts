import { status, type ServiceError } from '@grpc/grpc-js';
import { openBucket } from '@switchyard/bus';
import { Tier, buckets } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, type PriceBook } from '@switchyard/pricing';
import { waitFor } from '@switchyard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';
import { tenantClients } from '../support/tenant-client.js';

/**
 * Budgets have one owner, billing: set through `SetBudget`, enforced by admission from what
 * billing publishes (the ledger's spend) plus its own in-flight reservations.
 */
let system: RunningSystem;
const { clientFor, closeAll } = tenantClients(() => system);

beforeAll(async () => {
  // A short grace, so admission's provisional amounts give way to the ledger's within the test.
  system = await startSystem({ provisionalGraceMs: 300 });
}, 60_000);
afterAll(async () => {
  closeAll();
  await system?.stop();
});

/** What the ledger charged a tenant (debits to its own accounts), in micros, and for how many requests. */
async function ledgerSpend(tenant: string) {
  const [row] = await system.sql<{ n: string; micros: string | null }[]>`
    SELECT count(DISTINCT t.id) AS n, sum(e.amount_micros) FILTER (WHERE e.side = 'debit' AND e.account_id LIKE ${`tenant:${tenant}:%`}) AS micros
      FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id WHERE t.tenant = ${tenant}`;
  return { requests: Number(row!.n), micros: Number(row!.micros ?? 0) };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: ServiceError) => `${status[e.code]}: ${e.details}`,
  );

describe('budgets, owned by billing', () => {
  it('refuses a budget for a tenant that does not exist, or a negative one, and stores nothing', async () => {
    await expect(system.setBudget('nobody-here', { hardLimitMicros: 5 })).rejects.toMatchObject({
      code: status.NOT_FOUND,
      details: expect.stringContaining('no tenant "nobody-here"'),
    });
    await clientFor('careful');
    await expect(system.setBudget('careful', { hardLimitMicros: -5 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await system.sql`SELECT 1 FROM budgets WHERE tenant IN ('nobody-here', 'careful')`).toHaveLength(0);
  });

  it('refuses the next request over a budget set only through SetBudget within 1 s', async () => {
    const client = await clientFor('setonly');
    expect(await outcome(client.complete({ model: 'llama-3.1-8b', prompt: 'before any budget', maxTokens: 8 }))).toBe('ok');
    await system.setBudget('setonly', { hardLimitMicros: 1 });
    const setAt = Date.now();
    const refused = await waitFor(
      'refusal',
      async () => {
        const o = await outcome(client.complete({ model: 'llama-3.1-8b', prompt: 'after the budget', maxTokens: 8 }));
        return o === 'ok' ? undefined : o;
      },
      1_000,
    );
    expect(Date.now() - setAt).toBeLessThan(1_000);
    expect(refused).toMatch(/^RESOURCE_EXHAUSTED: monthly budget of tenant setonly would be exceeded/);
  });

  it("never lets 200 concurrent requests through the chat-large alias exceed a hard budget, and after a mixed run admission's spend settles to the ledger's, discounts included", async () => {
    const client = await clientFor('aliased');
    const hard = 2_000;
    await system.setBudget('aliased', { hardLimitMicros: hard });
    await waitFor('budget known to admission', () => system.admissions[0]!.budgetSpend('aliased'));
    const outcomes = await Promise.all(
      // Realtime and batch (half price) alike, through the alias and by the model's own name.
      Array.from({ length: 200 }, (_, i) =>
        outcome(
          client.complete({
            model: i % 3 === 0 ? 'llama-3.1-8b' : 'chat-large',
            prompt: `request ${i} ${'x'.repeat(40)}`,
            maxTokens: 16,
            tier: i % 2 ? Tier.TIER_BATCH : Tier.TIER_REALTIME,
          }),
        ),
      ),
    );
    const ok = outcomes.filter((o) => o === 'ok').length;
    expect(ok).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o !== 'ok').every((o) => o.startsWith('RESOURCE_EXHAUSTED: monthly budget of tenant aliased'))).toBe(true);
    const ledger = await waitFor('every completed request billed', async () => {
      const l = await ledgerSpend('aliased');
      return l.requests === ok ? l : undefined;
    });
    expect(ledger.micros).toBeLessThanOrEqual(hard);
    // Every settlement priced the resolved model (an alias has no price): none was dead-lettered,
    // nothing stays reserved, and once billing published the spend admission counts the ledger's.
    const spend = await waitFor(
      "admission's spend equal to the ledger's",
      async () => {
        const s = await system.admissions[0]!.budgetSpend('aliased');
        if (s && s.reservedMicros === 0 && s.spentMicros === ledger.micros) return s;
        // Thrown rather than undefined, so a timeout says how far apart the two were.
        throw new Error(`admission counts ${JSON.stringify(s)}, the ledger ${ledger.micros}`);
      },
      15_000,
    );
    expect(spend).toEqual({ spentMicros: ledger.micros, reservedMicros: 0 });
  });

  it("still enforces the month's spend after FLUSHALL on Redis", async () => {
    const client = await clientFor('flushed');
    const spend = (i: number) => outcome(client.complete({ model: 'llama-3.1-8b', prompt: `spend ${i} ${'y'.repeat(40)}`, maxTokens: 16 }));
    await system.setBudget('flushed', { hardLimitMicros: 1_000_000 });
    await waitFor('budget known to admission', () => system.admissions[0]!.budgetSpend('flushed'));
    for (let i = 0; i < 3; i++) expect(await spend(i)).toBe('ok');
    /** The ledger's spend once admission counts exactly it (nothing provisional, nothing in flight). */
    const settled = () =>
      waitFor('the ledger spend published and counted', async () => {
        const l = await ledgerSpend('flushed');
        const s = await system.admissions[0]!.budgetSpend('flushed');
        return s && l.micros > 0 && s.spentMicros === l.micros && s.reservedMicros === 0 ? l.micros : undefined;
      });
    // A limit just above what was spent: any request is refused by the month's spend alone.
    const hard = (await settled()) + 1;
    await system.setBudget('flushed', { hardLimitMicros: hard });
    const refused = await waitFor('the new limit enforced', async () => {
      const o = await spend(99);
      return o === 'ok' ? undefined : o;
    });
    expect(refused).toMatch(/^RESOURCE_EXHAUSTED: monthly budget of tenant flushed would be exceeded/);
    const spent = await settled();
    // A request costs less than the limit: a Redis that forgot the month's spend would admit it.
    const worstCase = Number(/may cost up to (\d+) micros/.exec(refused)![1]);
    expect(worstCase).toBeLessThanOrEqual(hard);

    const redis = new Redis(system.servers.redis.url);
    await redis.flushall();
    redis.disconnect();
    expect(await spend(100)).toMatch(/^RESOURCE_EXHAUSTED: monthly budget of tenant flushed would be exceeded/);
    expect((await ledgerSpend('flushed')).micros).toBe(spent);
  });

  it('reserves at the price-book version in force: a version taking effect changes the next reservations', async () => {
    const client = await clientFor('repriced');
    await system.setBudget('repriced', { hardLimitMicros: 100 });
    await waitFor('budget known to admission', () => system.admissions[0]!.budgetSpend('repriced'));
    const request = () => outcome(client.complete({ model: 'llama-3.1-8b', prompt: 'a short prompt', maxTokens: 20 }));
    // At v1 the worst case is ~13 micros: well inside the budget.
    expect(await request()).toBe('ok');
    // Billing writes every version to the `pricebook` bucket; this one is 20x dearer from 1 s on.
    const effectiveFromUnixMs = Date.now() + 1_000;
    const dear: PriceBook = {
      ...DEFAULT_PRICE_BOOK,
      version: 'v-dear',
      effectiveFromUnixMs,
      models: { ...DEFAULT_PRICE_BOOK.models, 'llama-3.1-8b': { inputPer1k: 4_000, cachedInputPer1k: 1_000, outputPer1k: 12_000 } },
    };
    const kv = await openBucket(system.nc, buckets.pricebook);
    await kv.put(dear.version, JSON.stringify(dear));
    expect(await request()).toBe('ok');
    await waitFor('the dear version in force', () => (Date.now() > effectiveFromUnixMs ? true : undefined));
    expect(await request()).toMatch(/^RESOURCE_EXHAUSTED: .*may cost up to 25\d micros/);
  });
});
