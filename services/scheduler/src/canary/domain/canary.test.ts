import { describe, expect, it } from 'vitest';
import { createCanaryStats, judgeCanary, rolledBack } from './canary.js';
import { defaultScheduling, routeSchema } from '../../config.js';
import { resolveModel } from '../../placement/domain/routing.js';

const thresholds = defaultScheduling().canary;
const route = routeSchema.parse({
  versions: [
    { version: 'v1', weight: 80 },
    { version: 'v2', weight: 20 },
  ],
  canary: { version: 'v2' },
});

describe('canary judgement', () => {
  it('waits for enough canary outcomes before judging', () => {
    const stats = createCanaryStats(60_000);
    for (let i = 0; i < 10; i++) stats.outcome('v2', true, 1_000);
    expect(judgeCanary(route, stats, thresholds, 1_000)).toMatchObject({ verdict: 'keep' });
  });

  it('rolls back a canary whose error rate is 20% against a clean baseline, naming both rates', () => {
    const stats = createCanaryStats(60_000);
    for (let i = 0; i < 100; i++) stats.outcome('v1', false, 1_000);
    for (let i = 0; i < 40; i++) stats.outcome('v2', i % 5 === 0, 1_000);
    const verdict = judgeCanary(route, stats, thresholds, 1_000);
    expect(verdict).toMatchObject({ verdict: 'rollback' });
    expect(verdict.reason).toBe('error rate 20.0% (8 of 40) vs baseline 0.0% (0 of 100); allowed +5.0%');
  });

  it('keeps a canary whose error rate matches the baseline', () => {
    const stats = createCanaryStats(60_000);
    for (let i = 0; i < 100; i++) stats.outcome('v1', i % 10 === 0, 1_000);
    for (let i = 0; i < 40; i++) stats.outcome('v2', i % 10 === 0, 1_000);
    expect(judgeCanary(route, stats, thresholds, 1_000)).toMatchObject({ verdict: 'keep' });
  });

  it('rolls back on TTFT when the canary is more than 2x slower at p90', () => {
    const stats = createCanaryStats(60_000);
    for (let i = 0; i < 50; i++) {
      stats.outcome('v1', false, 0);
      stats.outcome('v2', false, 0);
      stats.ttft('v1', 100 + i, 0);
      stats.ttft('v2', 400 + i, 0);
    }
    expect(judgeCanary(route, stats, thresholds, 0).reason).toMatch(/^p90 TTFT 445 ms vs baseline 145 ms/);
  });

  it('forgets outcomes older than its window', () => {
    const stats = createCanaryStats(10_000);
    for (let i = 0; i < 40; i++) stats.outcome('v2', true, 0);
    expect(judgeCanary(route, stats, thresholds, 20_000)).toMatchObject({ verdict: 'keep' });
  });

  it('holds about one window of samples while no canary is judged, however long it runs', () => {
    const stats = createCanaryStats(10_000);
    // An hour of outcomes and TTFTs at 100 a second, and no summary asked for.
    for (let atMs = 0; atMs < 3_600_000; atMs += 10) {
      stats.outcome('v1', false, atMs);
      stats.ttft('v1', 40, atMs);
    }
    // One 10 s window is 1,000 of each kind; old ones go in batches, so up to twice that.
    expect(stats.held).toBeGreaterThanOrEqual(2 * 1_000);
    expect(stats.held).toBeLessThanOrEqual(2 * 2 * 1_000 + 2);
    expect(stats.summary(['v1'], 3_600_000)).toMatchObject({ requests: 1_000, ttftSamples: 1_000 });
  });

  it('a rolled-back route keeps the canary on record with no traffic', () => {
    const back = rolledBack(route, 'error rate 20%', 5);
    expect(back.canary).toMatchObject({ status: 'rolled-back', reason: 'error rate 20%', sinceUnixMs: 5 });
    expect(back.versions.find((v) => v.version === 'v2')!.weight).toBe(0);
    expect(resolveModel('r', { promptTokens: 1, maxTokens: 1, tier: 'realtime' }, new Map([['r', back]]), 0.99)).toMatchObject({ version: 'v1' });
  });
});
