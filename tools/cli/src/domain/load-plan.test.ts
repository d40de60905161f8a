import { describe, expect, it } from 'vitest';
import { planLoad, type PlanOptions } from './load-plan.js';
import type { TraceRow } from './trace-format.js';

const rows: TraceRow[] = [
  { line: 2, atMs: 0, inputTokens: 100, outputTokens: 10 },
  { line: 3, atMs: 1_000, inputTokens: 50_000, outputTokens: 10 },
  { line: 4, atMs: 2_000, inputTokens: 100, outputTokens: 9_000, tier: 'batch', tenant: 'globex' },
  { line: 5, atMs: 8_000, inputTokens: 0, outputTokens: 0 },
];
const options: PlanOptions = {
  speed: 2,
  tierMix: { realtime: 1, internal: 0, batch: 0 },
  tenants: ['acme', 'globex'],
  maxPromptTokens: 32_768,
  maxOutputTokens: 4_096,
  seed: 1,
};

describe('planLoad', () => {
  it('sends at arrival / speed, skips rows over the prompt limit and clamps outputs, counting both', () => {
    const plan = planLoad(rows, options);
    expect(plan.requests.map((r) => [r.line, r.sendAtMs, r.promptTokens, r.maxTokens])).toEqual([
      [2, 0, 100, 10],
      [4, 1_000, 100, 4_096],
      [5, 4_000, 1, 1],
    ]);
    expect(plan).toMatchObject({ skippedOverPromptLimit: 1, clampedOutput: 1, skippedPastDuration: 0, spanMs: 4_000 });
  });

  it('keeps a row its own tier and tenant and draws for the others', () => {
    const plan = planLoad(rows, options);
    expect(plan.requests[1]).toMatchObject({ tier: 'batch', tenant: 'globex' });
    expect(plan.requests[0]!.tier).toBe('realtime');
    expect(['acme', 'globex']).toContain(plan.requests[0]!.tenant);
  });

  it('stops at --duration wall seconds', () => {
    const plan = planLoad(rows, { ...options, durationS: 3 });
    expect(plan.requests.map((r) => r.line)).toEqual([2, 4]);
    expect(plan.skippedPastDuration).toBe(1);
  });

  it('draws the same for the same seed whatever is skipped', () => {
    const many = Array.from({ length: 50 }, (_, i): TraceRow => ({ line: i + 2, atMs: i, inputTokens: 10, outputTokens: 1 }));
    const mix = { ...options, tierMix: { realtime: 60, internal: 30, batch: 10 } };
    const a = planLoad(many, mix).requests.map((r) => r.tier + r.tenant);
    const b = planLoad(many, { ...mix, durationS: 10 }).requests.map((r) => r.tier + r.tenant);
    expect(b).toEqual(a.slice(0, b.length));
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});
