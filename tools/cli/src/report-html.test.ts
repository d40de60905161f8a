import { describe, expect, it } from 'vitest';
import type { TierResult } from './domain/load-result.js';
import { reportData } from './domain/report-data.js';
import { reportHtml, scriptJson } from './report-html.js';

const figures: TierResult = {
  requests: 1,
  sent: 1,
  completed: 1,
  rejected: 0,
  failed: 0,
  dropped: 0,
  rejectedBy: {},
  failedBy: {},
  ttftMs: { p50: 10, p95: 10, p99: 10 },
  e2eMs: { p50: 100, p95: 100, p99: 100 },
  sloTtftMs: 1_000,
  metSlo: 1,
  sloAttainment: 1,
  goodputPerS: 1,
  inputTokens: 10,
  outputTokens: 10,
  costUsd: 0.001,
  costPer1kTokensUsd: 0.05,
};
const hostile = '</script><script>alert(1)</script>';
const data = reportData({
  options: { model: 'llama-3.1-8b' },
  windowS: 1,
  tiers: { realtime: figures },
  all: figures,
  records: [
    {
      index: 0,
      line: 2,
      tier: 'realtime',
      tenant: hostile,
      scheduledMs: 0,
      sentMs: 0,
      outcome: 'completed',
      ttftMs: 10,
      e2eMs: 100,
      promptTokens: 10,
      maxTokens: 10,
      inputTokens: 10,
      outputTokens: 10,
      costMicros: 1_000,
    },
  ],
});

describe('reportHtml', () => {
  it('embeds data that cannot close its script tag and still parses back', () => {
    expect(scriptJson({ t: hostile })).not.toContain('<');
    expect(JSON.parse(scriptJson({ t: hostile, s: '\u2028' }))).toEqual({ t: hostile, s: '\u2028' });
    const html = reportHtml(data);
    expect(html).not.toContain(hostile);
    // Only the three script tags the page has: data, ECharts, drawing code.
    expect(html.match(/<script[\s>]/g)).toHaveLength(3);
  });
  it('inlines ECharts and refers to nothing outside the file', () => {
    const html = reportHtml(data);
    expect(html).toContain('echarts');
    expect(html.length).toBeGreaterThan(500_000);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
  });
  it('gives each chart with data a div and each without a note saying why', () => {
    const html = reportHtml(data);
    for (const c of ['ttft', 'e2e', 'throughput', 'in-flight', 'cost-tenant', 'cost-model']) expect(html).toContain(`data-chart="${c}"`);
    expect(html).toContain('data-chart-note="utilisation"');
    expect(html).toContain('data-chart-note="cost-feature"');
  });
});
