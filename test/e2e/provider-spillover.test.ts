import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { BillingServiceClient, Outcome, type Invoice } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startFakeOpenAiUpstream, testPool, waitFor, type FakeUpstream } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';
import { reconcileSystem } from '../support/reconcile.js';

/**
 * Issue #21: reserved capacity first, then a provider (Azure PTU-style spillover). Tenant acme
 * holds a reservation of one small pool of simulated GPUs; when it is saturated, the scheduler
 * spills acme's requests to a `provider` pool (an OpenAI-compatible API, faked here as the
 * third-party HTTP it is). The invoice shows both: the reserved pool's usage at the reserved
 * rate with its GPU time costed per GPU-hour, the provider's usage at the on-demand rate
 * costed per token at the provider's prices. Reconcile finds nothing wrong.
 */

const PRICES = { inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 };
const PROVIDER_USAGE = { prompt: 40, completion: 6 };
let system: RunningSystem;
let provider: FakeUpstream;
let client: SwitchyardClient;
let billing: BillingServiceClient;

const asOperator = () => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${system.operatorApiKey}`);
  return m;
};

beforeAll(async () => {
  provider = await startFakeOpenAiUpstream({ kind: 'stream', tokens: ['spilled', ' to', ' the', ' provider', ' in', ' time'], usage: PROVIDER_USAGE });
  system = await startSystem({
    pools: [
      testPool({ id: 'own-h100-8b', capacityClass: 'reserved', reservedFor: ['acme'], slotsPerWorker: 2, pricePerGpuHour: 2.2 }),
      testPool({
        id: 'azure-eastus-8b',
        kind: 'provider',
        provider: 'azure',
        region: 'eastus',
        capacityClass: 'on-demand',
        pricePerGpuHour: undefined,
        tokenPrices: PRICES,
        endpoint: { baseUrl: provider.baseUrl, apiKeyEnv: 'AZURE_OPENAI_KEY', concurrency: 32, firstTokenTimeoutMs: 5_000, idleTimeoutMs: 5_000 },
      }),
    ],
    engineAdapter: { apiKeys: { AZURE_OPENAI_KEY: 'sk-azure' } },
  });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
  billing = new BillingServiceClient(system.billingAddress, credentials.createInsecure());
  const hour = 3_600_000;
  await new Promise<void>((resolve, reject) =>
    billing.createReservation(
      { reservationId: 'acme-own-8b', tenant: 'acme', pools: ['own-h100-8b'], gpus: 1, startUnixMs: Date.now() - hour, endUnixMs: Date.now() + hour },
      asOperator(),
      (e: ServiceError | null) => (e ? reject(e) : resolve()),
    ),
  );
}, 60_000);

afterAll(async () => {
  client?.close();
  billing?.close();
  await system?.stop();
  await provider?.close();
});

describe('spillover from a reserved pool to a provider', () => {
  it('serves the overflow on the provider and invoices both, each priced its own way', async () => {
    // Two slots of simulated GPU, twelve long realtime requests at once: most cannot meet the TTFT objective there.
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => client.complete({ model: 'llama-3.1-8b', prompt: `spill ${i}`, maxTokens: 200, seed: i, feature: 'chat' })),
    );
    expect(replies.every((r) => r.outcome === Outcome.OUTCOME_COMPLETED)).toBe(true);
    const onProvider = replies.filter((r) => r.text === 'spilled to the provider in time');
    expect(onProvider.length).toBeGreaterThan(0);
    expect(onProvider.length).toBeLessThan(replies.length);
    expect(provider.calls.every((c) => c.authorization === 'Bearer sk-azure')).toBe(true);

    const invoice = await waitFor(
      'every request on the invoice',
      async () => {
        const got = await new Promise<Invoice | undefined>((resolve, reject) =>
          billing.getInvoice({ tenant: 'acme', period: '' }, asOperator(), (e: ServiceError | null, r?: { invoice?: Invoice }) =>
            e ? reject(e) : resolve(r?.invoice),
          ),
        );
        return got && got.lines.reduce((n, l) => n + l.requests, 0) === replies.length ? got : undefined;
      },
      30_000,
    );
    const reserved = invoice.lines.find((l) => l.pools.includes('own-h100-8b'))!;
    const spilled = invoice.lines.find((l) => l.pools.includes('azure-eastus-8b'))!;
    expect(reserved).toMatchObject({ capacityClass: 'reserved', costBasis: 'gpu-hour', pools: ['own-h100-8b'], requests: replies.length - onProvider.length });
    expect(spilled).toMatchObject({ capacityClass: 'on-demand', costBasis: 'per-token', pools: ['azure-eastus-8b'], requests: onProvider.length });
    // The provider's own token counts, at its prices (micros per token = units per million).
    const perRequest = Math.round(PROVIDER_USAGE.prompt * PRICES.inputPerMillion + PROVIDER_USAGE.completion * PRICES.outputPerMillion);
    expect(spilled.inputTokens).toBe(PROVIDER_USAGE.prompt * onProvider.length);
    expect(spilled.gpuCostMicros).toBe(perRequest * onProvider.length);
    expect(reserved.gpuSeconds).toBeGreaterThan(0);
    // GPU-hours at the pool's price, rounded to the micro per usage event (so within half a micro per request of the total's).
    expect(Math.abs(reserved.gpuCostMicros - (reserved.gpuSeconds * 2.2 * 1e6) / 3600)).toBeLessThanOrEqual(reserved.requests / 2);
    // Reserved usage is charged at the reservation's discount; the overflow at the list price.
    expect(reserved.discount).toBeGreaterThan(0);
    expect(spilled.discount).toBe(0);

    const report = await reconcileSystem(system, Date.now() - 600_000, { tenant: 'acme' });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
