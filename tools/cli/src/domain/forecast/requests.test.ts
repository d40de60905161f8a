import { describe, expect, it } from 'vitest';
import type { TraceRow } from '../trace-format.js';
import { scaledRequests } from './requests.js';

const rows: TraceRow[] = Array.from({ length: 100 }, (_, i) => ({ line: i + 2, atMs: i * 1_000, inputTokens: 100 + i, outputTokens: 10 }));
const o = {
  durationS: 50,
  tierMix: { realtime: 60, internal: 30, batch: 10 },
  tenants: ['acme'],
  feature: 'chat',
  maxPromptTokens: 32_768,
  maxOutputTokens: 4_096,
  seed: 3,
};

describe('scaledRequests', () => {
  it('sends each request of the window k times, copies between it and the next arrival, sorted', () => {
    const one = scaledRequests(rows, 1, o).requests;
    const three = scaledRequests(rows, 3, o).requests;
    expect(one).toHaveLength(50);
    expect(three).toHaveLength(150);
    expect(three.map((r) => r.index)).toEqual([...three.keys()]);
    expect(three.every((r, i) => i === 0 || r.arrivalMs >= three[i - 1]!.arrivalMs)).toBe(true);
    expect(three.every((r) => r.arrivalMs < 50_000)).toBe(true);
    for (const r of one) {
      const copies = three.filter((c) => c.promptTokens === r.promptTokens);
      expect(copies).toHaveLength(3);
      expect(copies.every((c) => c.tier === r.tier && c.arrivalMs >= r.arrivalMs && c.arrivalMs < r.arrivalMs + 1_000)).toBe(true);
    }
  });

  it('sends a fractional scale on average, the same for the same seed', () => {
    const half = scaledRequests(rows, 1.5, o).requests;
    expect(half.length).toBeGreaterThan(60);
    expect(half.length).toBeLessThan(90);
    expect(scaledRequests(rows, 1.5, o)).toEqual(scaledRequests(rows, 1.5, o));
  });
});

describe('scaledRequests tenants', () => {
  it("bills a trace's own tenants as they are named, rows without one spread over them", () => {
    const named: TraceRow[] = rows.map((r, i) => (i % 3 === 2 ? r : { ...r, tenant: i % 3 === 0 ? 'acme-corp' : 'globex' }));
    const requests = scaledRequests(named, 1, { ...o, tenants: ['default'] }).requests;
    expect(new Set(requests.map((r) => r.tenant))).toEqual(new Set(['acme-corp', 'globex']));
    expect(requests.filter((r) => r.promptTokens === 100)[0]!.tenant).toBe('acme-corp');
  });
});
