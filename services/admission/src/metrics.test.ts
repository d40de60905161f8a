import { DomainError } from '@switchyard/contracts';
import { Registry } from '@switchyard/telemetry';
import { describe, expect, it } from 'vitest';
import { createAdmissionMetrics, LATENCY_BUCKETS, outcomeOf, TTFT_OBJECTIVE_SECONDS } from './metrics.js';

const valueOf = async (registry: Registry, name: string, labels: Record<string, string | number>) =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;

describe('admission metrics', () => {
  it("have every tier's TTFT objective as a bucket boundary", () => {
    for (const objective of Object.values(TTFT_OBJECTIVE_SECONDS)) expect(LATENCY_BUCKETS).toContain(objective);
  });

  it('name the outcome a call ended with', () => {
    const e = (code: ConstructorParameters<typeof DomainError>[0]) => new DomainError(code, 'x');
    expect(outcomeOf(e('RESOURCE_EXHAUSTED'), false, false)).toBe('refused');
    expect(outcomeOf(e('INTERNAL'), false, false)).toBe('failed');
    expect(outcomeOf(e('RESOURCE_EXHAUSTED'), true, false)).toBe('rejected');
    expect(outcomeOf(e('DEADLINE_EXCEEDED'), true, false)).toBe('expired');
    expect(outcomeOf(e('PERMISSION_DENIED'), true, false)).toBe('blocked');
    expect(outcomeOf(e('DATA_LOSS'), true, false)).toBe('failed');
    expect(outcomeOf(e('UNAVAILABLE'), true, true)).toBe('cancelled');
  });

  it('count an admitted call that failed before its first token as a TTFT miss, not as a fast first token', async () => {
    const registry = new Registry();
    const metrics = createAdmissionMetrics(registry);
    metrics.started('realtime');
    metrics.ended('realtime', 'm', 'failed', 1_000, 0, 1_200, undefined);
    metrics.started('realtime');
    metrics.ended('realtime', 'm', 'completed', 1_000, 1_400, 2_000, { inputTokens: 7, cachedInputTokens: 0, outputTokens: 3 });
    expect(await valueOf(registry, 'switchyard_admission_ttft_missed_total', { tier: 'realtime' })).toBe(1);
    expect(await valueOf(registry, 'switchyard_admission_ttft_seconds', { tier: 'realtime', model: 'm', le: 0.5 })).toBe(1);
    expect(await valueOf(registry, 'switchyard_admission_ttft_seconds', { tier: 'realtime', model: 'm', le: 0.25 })).toBe(0);
    expect(await valueOf(registry, 'switchyard_admission_e2e_seconds', { tier: 'realtime', model: 'm', le: 1 })).toBe(2);
    expect(await valueOf(registry, 'switchyard_admission_tokens_total', { tier: 'realtime', model: 'm', kind: 'prompt' })).toBe(7);
    expect(await valueOf(registry, 'switchyard_admission_in_flight', { tier: 'realtime' })).toBe(0);
  });
});
