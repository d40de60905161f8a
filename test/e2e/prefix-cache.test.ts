import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { BillingServiceClient, type Invoice } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { testPool, waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { reconcileSystem } from '../support/reconcile.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #22, the worker and the money: a prompt that starts like one a worker served before is
 * prefilled only past the part it still holds, the caller is told how many prompt tokens came
 * from the cache, and the ledger bills those at the price book's cached-input price. One worker,
 * so both requests reach the GPU that holds the prefix (placing by prefix is the scheduler's part).
 */

let system: RunningSystem;
let acme: SwitchyardClient;
let globex: SwitchyardClient;
const started = Date.now();

// About 1,900 tokens of a shared document, then each request's own question.
const DOCUMENT = Array.from({ length: 120 }, (_, i) => `Clause ${i}: the yard hands each train to track ${i % 7} before noon.`).join(' ');
const ask = (question: string) => `${DOCUMENT}\n\nQuestion: ${question}`;
const PRICE = DEFAULT_PRICE_BOOK.models['llama-3.1-8b']!;

beforeAll(async () => {
  system = await startSystem({ pools: [testPool({ id: 'one-gpu', workers: 1, slotsPerWorker: 16 })] });
  acme = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
  globex = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.otherApiKey });
}, 60_000);

afterAll(async () => {
  acme?.close();
  globex?.close();
  await system?.stop();
});

/** The usage a worker recorded for a request: GPU time and time to first token, simulated. */
async function usageOf(requestId: string) {
  const m = await waitFor('its usage recorded', async () =>
    (await readStream(system.nc, 'USAGE')).find((u) => u.event.envelope?.requestId === requestId && u.event.payload?.$case === 'usageRecorded'),
  );
  if (m.event.payload?.$case !== 'usageRecorded') throw new Error('not usage');
  return m.event.payload.usageRecorded;
}

describe('prefix caching, from the prompt to the ledger', () => {
  it('reports the repeated prefix as cached input on the second request, prefilled faster, and only for the same tenant', async () => {
    const first = await acme.complete({ model: 'llama-3.1-8b', prompt: ask('Which track at noon?'), maxTokens: 8 });
    const second = await acme.complete({ model: 'llama-3.1-8b', prompt: ask('And before noon?'), maxTokens: 8 });
    const otherTenant = await globex.complete({ model: 'llama-3.1-8b', prompt: ask('And before noon?'), maxTokens: 8 });

    expect(first.usage?.cachedInputTokens).toBe(0);
    // Every whole 64-token block of the shared document is reused; the question is computed.
    expect(second.usage!.inputTokens).toBeGreaterThan(1_500);
    expect(second.usage!.cachedInputTokens).toBeGreaterThan(second.usage!.inputTokens - 64 - 20);
    expect(second.usage!.cachedInputTokens % 64).toBe(0);
    // Another tenant's identical prompt shares nothing: caches are per tenant.
    expect(otherTenant.usage?.cachedInputTokens).toBe(0);

    const [u1, u2] = [await usageOf(first.requestId), await usageOf(second.requestId)];
    expect(u2.ttftMs - u2.queueMs).toBeLessThan(0.5 * (u1.ttftMs - u1.queueMs));
    expect(u2.gpuMs).toBeLessThan(u1.gpuMs);
  });

  it('says so in the OpenAI shape: usage.prompt_tokens_details.cached_tokens', async () => {
    const call = (question: string) =>
      fetch(`${system.httpUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: ask(question) }], max_tokens: 4 }),
      }).then((r) => r.json() as Promise<{ usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } }>);
    await call('Over HTTP, first.');
    const again = await call('Over HTTP, again.');
    expect(again.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(again.usage.prompt_tokens - 64 - 30);
  });

  it('bills cached input at the cached price, and reconciles with 0 differences', async () => {
    const rows = await waitFor('cached usage posted', async () => {
      const r = await system.sql<{ input: number; cached: number; output: number; amount: string; request_id: string }[]>`
        SELECT input_tokens AS input, cached_input_tokens AS cached, output_tokens AS output, amount_micros AS amount, request_id
          FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'acme' AND cached_input_tokens > 0`;
      return r.length >= 2 ? r : undefined;
    });
    for (const row of rows) {
      // Per 1K tokens in milli-micros, as the price book states it, rounded half up to micros.
      const milli = (row.input - row.cached) * PRICE.inputPer1k + row.cached * PRICE.cachedInputPer1k + row.output * PRICE.outputPer1k;
      expect({ request: row.request_id, amount: Number(row.amount) }).toEqual({ request: row.request_id, amount: Math.round(milli / 1000) });
    }
    // The invoice shows the cached tokens and what they saved against the uncached price.
    const billing = new BillingServiceClient(system.billingAddress, credentials.createInsecure());
    const asAcme = new Metadata();
    asAcme.set('authorization', `Bearer ${system.apiKey}`);
    const invoice = await new Promise<Invoice>((resolve, reject) =>
      billing.getInvoice({ tenant: '', period: '' }, asAcme, (e: ServiceError | null, r?: { invoice?: Invoice }) => (e ? reject(e) : resolve(r!.invoice!))),
    );
    billing.close();
    const cached = rows.reduce((n, r) => n + r.cached, 0);
    expect(invoice.lines.reduce((n, l) => n + l.cachedInputTokens, 0)).toBe(cached);
    expect(invoice.promptCacheSavingMicros).toBe(Math.round((cached * (PRICE.inputPer1k - PRICE.cachedInputPer1k)) / 1000));
    expect(invoice.promptCacheSavingMicros).toBeGreaterThan(0);
    const report = await reconcileSystem(system, started - 60_000, { untilClean: true });
    expect(report.differences).toEqual([]);
  });
});
