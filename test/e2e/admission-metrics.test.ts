import { hashApiKey } from '@switchyard/auth';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { Registry, serveMetrics, type MetricsServer } from '@switchyard/telemetry';
import { waitFor } from '@switchyard/testing';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

const MODEL = 'llama-3.1-8b';
const registry = new Registry();
let system: RunningSystem;
let metrics: MetricsServer;
let client: SwitchyardClient;
let apiKey: string;

beforeAll(async () => {
  system = await startSystem({ registry, tenants: [{ tenant: 'metered', limits: { realtime: { requestsPerMinute: 1, tokensPerMinute: 100_000 } } }] });
  metrics = await serveMetrics(registry, 0);
  apiKey = `sy_test_metered_${Math.random().toString(36).slice(2)}`;
  await system.tenants.putKey({ tenant: 'metered', keyId: 'metered-1', keyHash: hashApiKey(apiKey), tiers: [] });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey });
  await waitFor('key propagated', () => client.getRequest('req_none').catch((e: ServiceError) => (e.code === status.NOT_FOUND ? true : undefined)));
}, 60_000);
afterAll(async () => {
  client?.close();
  await metrics?.close();
  await system?.stop();
});

/** The value of the one sample of `name` whose labels include all of `labels`, from /metrics. */
async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('admission metrics', () => {
  it('count a completed gRPC call with its TTFT and tokens, and an HTTP call refused by the rate limit with why', async () => {
    const done = await client.complete({ model: MODEL, prompt: 'hello there', maxTokens: 4 });
    const refused = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    });
    expect(refused.status).toBe(429);
    const unknownKey = await fetch(`${system.httpUrl}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sy_nobody' } });
    expect(unknownKey.status).toBe(401);

    const call = { tier: 'realtime', model: MODEL };
    expect(await sample('switchyard_admission_requests_total', { ...call, outcome: 'completed' })).toBe(1);
    expect(await sample('switchyard_admission_requests_total', { ...call, outcome: 'refused' })).toBe(1);
    expect(await sample('switchyard_admission_refusals_total', { tier: 'realtime', reason: 'rate' })).toBe(1);
    expect(await sample('switchyard_admission_refusals_total', { tier: 'unknown', reason: 'auth' })).toBe(1);
    // One TTFT, within realtime's 1 s objective (a bucket boundary), and one end-to-end time.
    expect(await sample('switchyard_admission_ttft_seconds_count', call)).toBe(1);
    expect(await sample('switchyard_admission_ttft_seconds_bucket', { ...call, le: '1' })).toBe(1);
    expect(await sample('switchyard_admission_e2e_seconds_count', call)).toBe(1);
    expect(await sample('switchyard_admission_tokens_total', { ...call, kind: 'completion' })).toBe(done.usage!.outputTokens);
    expect(await sample('switchyard_admission_tokens_total', { ...call, kind: 'prompt' })).toBe(done.usage!.inputTokens);
    expect(await sample('switchyard_admission_in_flight', { tier: 'realtime' })).toBe(0);
    expect(await sample('switchyard_admission_ttft_missed_total', { tier: 'realtime' })).toBe(0);
  });
});
