import { describe, expect, it } from 'vitest';
import { planLoad } from './load-plan.js';
import { DEFAULT_TIER_MIX } from './tier-mix.js';
import { windowTrace, type AdmittedRequest } from './window-trace.js';

const at = (requestId: string, admittedMs: number, over: Partial<AdmittedRequest> = {}): AdmittedRequest => ({
  requestId,
  admittedMs,
  tenant: 'acme',
  tier: 'realtime',
  feature: 'chat',
  model: 'llama-3.1-8b',
  promptTokens: 100,
  maxTokens: 64,
  ...over,
});

describe('windowTrace', () => {
  it('turns admissions into rows from the window start, with the output the usage recorded, else max_tokens', () => {
    const w = windowTrace([at('b', 3_000, { tier: 'batch', feature: 'search' }), at('a', 1_500)], new Map([['a', 17]]), 1_000);
    expect(w.rows).toEqual([
      { line: 2, atMs: 500, inputTokens: 100, outputTokens: 17, tenant: 'acme', tier: 'realtime', feature: 'chat' },
      { line: 1, atMs: 2_000, inputTokens: 100, outputTokens: 64, tenant: 'acme', tier: 'batch', feature: 'search' },
    ]);
    expect(w.measuredOutputs).toBe(1);
  });

  it("keeps the most requested model's rows by default and counts the others", () => {
    const w = windowTrace([at('a', 0, { model: 'x' }), at('b', 0), at('c', 0)], new Map(), 0);
    expect(w.model).toBe('llama-3.1-8b');
    expect(w.rows).toHaveLength(2);
    expect(w.models).toEqual([
      ['llama-3.1-8b', 2],
      ['x', 1],
    ]);
    expect(windowTrace([at('a', 0, { model: 'x' }), at('b', 0)], new Map(), 0, 'x').rows).toHaveLength(1);
  });

  it("keeps each row's tier, tenant and feature through the load plan", () => {
    const w = windowTrace([at('a', 0, { tier: 'internal', tenant: 'globex', feature: 'summaries' })], new Map(), 0);
    const plan = planLoad(w.rows, {
      speed: 1,
      tierMix: DEFAULT_TIER_MIX,
      tenants: ['acme', 'globex'],
      maxPromptTokens: 1_000,
      maxOutputTokens: 1_000,
      seed: 1,
    });
    expect(plan.requests[0]).toMatchObject({ tier: 'internal', tenant: 'globex', feature: 'summaries' });
  });
});
