import { describe, expect, it } from 'vitest';
import type { TopSnapshot } from '@switchyard/live-model';
import { renderTop } from './top-render.js';

const snapshot: TopSnapshot = {
  atMs: Date.UTC(2026, 11, 6, 9, 0, 0),
  windowMs: 60_000,
  heardMs: 60_000,
  tiers: [
    {
      tier: 'realtime',
      admittedPerS: 2.5,
      completedPerS: 2,
      rejectedPerS: 0.5,
      failedPerS: 0,
      counts: { completed: 120, rejected: 30 },
      ttftMs: { p50: 41, p95: 88.4, p99: 120 },
      ttftAttainment: 1,
      e2eMs: { p50: 410, p95: 900, p99: 1_200 },
      tokensPerS: 512,
    },
  ],
  pools: [{ pool: 'eu-h100-8b', healthyWorkers: 2, workers: 2, running: 12, waiting: 1, freeSlots: 20, kvUsed: 0.31, utilisation: 0.375, servedPerS: 2 }],
  tenants: [{ tenant: 'acme', spendMicros: 1_234_500, spendPerHourMicros: 74_070_000, requests: 120 }],
};

describe('renderTop', () => {
  it('shows tiers, pools and tenants within 100 columns', () => {
    const lines = renderTop(snapshot);
    expect(lines[0]).toBe('switchyard top  2026-12-06T09:00:00.000Z  window 60s');
    const text = lines.join('\n');
    expect(text).toMatch(/realtime\s+2\.50\s+2\.00\s+0\.50\s+0\.00\s+512\s+41\s+88\s+120\s+410\s+900\s+1200/);
    expect(text).toMatch(/eu-h100-8b\s+2\/2\s+12\s+1\s+20\s+31%\s+38%\s+2\.00/);
    expect(text).toMatch(/acme\s+120\s+1\.234500\s+74\.070000/);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('says how much of the window it heard', () => {
    expect(renderTop({ ...snapshot, heardMs: 10_000 })[0]).toBe('switchyard top  2026-12-06T09:00:00.000Z  window 60s (10s heard)');
  });

  it('says so when the window is empty, and cuts a line too long for the screen', () => {
    const lines = renderTop({ ...snapshot, tiers: [], tenants: [], pools: [{ ...snapshot.pools[0]!, pool: 'p'.repeat(150) }] });
    expect(lines).toContain('no requests in the window');
    expect(lines).toContain('no spend in the window');
    expect(lines.every((l) => l.length <= 100)).toBe(true);
  });
});
