import { describe, expect, it } from 'vitest';
import type { RequestRecord, TierResult } from './load-result.js';
import { cdf, inFlightPerSecond, reportData, throughputPerSecond, type ReportForecast, type ReportRun } from './report-data.js';
import { checkForecast, checkRun, ReportInputError } from './report-input.js';

const rec = (over: Partial<RequestRecord>): RequestRecord => ({
  index: 0,
  line: 2,
  tier: 'realtime',
  tenant: 'acme',
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
  ...over,
});

const figures = {} as TierResult;
const run = (records: RequestRecord[]): ReportRun => ({
  options: { model: 'llama-3.1-8b' },
  windowS: 3,
  tiers: { realtime: figures, batch: figures },
  all: figures,
  records,
});

describe('cdf', () => {
  it('rises to 1 at the largest value, sorted', () => {
    expect(cdf([30, 10, 20, 40])).toEqual([
      [10, 0.25],
      [20, 0.5],
      [30, 0.75],
      [40, 1],
    ]);
  });
  it('thins 10,000 values to at most 201 points and keeps the largest', () => {
    const points = cdf(Array.from({ length: 10_000 }, (_, i) => i));
    expect(points.length).toBeLessThanOrEqual(201);
    expect(points.at(-1)).toEqual([9_999, 1]);
  });
  it('is empty for no values', () => expect(cdf([])).toEqual([]));
});

describe('throughput and in flight per second', () => {
  const records = [
    rec({ sentMs: 0, e2eMs: 1_500 }), // open 0-1.5 s, ends in second 1
    rec({ sentMs: 200, e2eMs: 300 }), // open 0.2-0.5 s, ends in second 0
    rec({ sentMs: 2_100, e2eMs: 100 }), // second 2
    rec({ sentMs: 2_500, outcome: 'rejected', ttftMs: undefined, e2eMs: undefined }),
    rec({ sentMs: 2_600, outcome: 'dropped', ttftMs: undefined, e2eMs: undefined }),
  ];
  it('counts completions in the second they ended', () => {
    expect(throughputPerSecond(records, 3)).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });
  it('takes the peak of requests open in each second, dropped ones never sent', () => {
    expect(inFlightPerSecond(records, 3)).toEqual([
      [0, 2],
      [1, 1],
      [2, 1],
    ]);
  });
  it('does not count a request that ended as the next was sent as overlapping', () => {
    expect(inFlightPerSecond([rec({ sentMs: 0, e2eMs: 500 }), rec({ sentMs: 500, e2eMs: 100 })], 1)).toEqual([[0, 1]]);
  });
});

describe('reportData', () => {
  const records = [
    rec({ tenant: 'acme', ttftMs: 10, costMicros: 2_000 }),
    rec({ tenant: 'beta', ttftMs: 30, costMicros: 1_000 }),
    rec({ tenant: 'beta', tier: 'batch', ttftMs: 500, costMicros: 500 }),
    rec({ tenant: 'beta', outcome: 'rejected', ttftMs: undefined, e2eMs: undefined, costMicros: undefined }),
  ];
  it('draws a CDF per tier of completed requests only and sums cost by tenant and the run model', () => {
    const d = reportData(run(records));
    expect(d.ttftCdf).toEqual({
      realtime: [
        [10, 0.5],
        [30, 1],
      ],
      batch: [[500, 1]],
    });
    expect(d.costByTenant).toEqual([
      ['acme', 0.002],
      ['beta', 0.0015],
    ]);
    expect(d.costByModel).toEqual([['llama-3.1-8b', 0.0035]]);
    expect(d.outcomes).toEqual({ completed: 3, rejected: 1, failed: 0, dropped: 0 });
  });
  it('says why it has no feature split nor utilisation, rather than inventing them', () => {
    const d = reportData(run(records));
    expect(d.costByFeature).toBeUndefined();
    expect(d.notes['cost-feature']).toMatch(/feature/);
    expect(d.notes.utilisation).toMatch(/--forecast/);
    expect(d.utilisation).toBeUndefined();
  });
  it('splits cost by feature when records carry one', () => {
    const d = reportData(run([{ ...rec({}), feature: 'chat' } as RequestRecord]));
    expect(d.costByFeature).toEqual([['chat', 0.001]]);
    expect(d.notes['cost-feature']).toBeUndefined();
  });
  it('takes utilisation per pool and the forecast rows from the forecast', () => {
    const forecast: ReportForecast = {
      scales: [
        {
          scale: 2,
          summary: {
            requests: 100,
            tiers: { realtime: { attainment: 0.9, ttftP95Ms: 300 } },
            pools: [{ pool: 'h100', workers: 2, busy: 0.5, utilisation: 0.25, costMicros: 9, idleMicros: 4 }],
            billMicros: 2_000_000,
            gpuCostMicros: 5_000_000,
            billPer1kMicros: 20,
          },
          capacity: { met: true, extra: { h100: 1 }, extraCostMicros: 10 },
        },
      ],
    };
    const d = reportData(run(records), forecast);
    expect(d.utilisation).toEqual([{ scale: 2, pools: [{ pool: 'h100', busy: 0.5, utilisation: 0.25 }] }]);
    expect(d.forecast).toEqual([
      { scale: 2, requests: 100, attainment: { realtime: 0.9 }, billUsd: 2, gpuCostUsd: 5, billPer1kUsd: 0.00002, extraGpus: { h100: 1 }, capacityMet: true },
    ]);
    expect(d.notes.utilisation).toBeUndefined();
  });
});

describe('checkRun and checkForecast', () => {
  it('names the file and what is missing', () => {
    expect(() => checkRun({ options: { model: 'm' }, windowS: 1, tiers: {}, all: {} }, 'run.json')).toThrow(/run\.json .*records/);
    expect(() => checkRun([], 'run.json')).toThrow(ReportInputError);
    expect(() => checkRun({ options: { model: 'm' }, windowS: 1, tiers: {}, all: {}, records: [{ tier: 'realtime' }] }, 'r.json')).toThrow(/records\[0\]/);
    expect(() => checkForecast({ scales: [{ scale: 1 }] }, 'f.json')).toThrow(/f\.json .*scales\[0\]/);
  });
  it('accepts a load run', () => {
    expect(checkRun(run([rec({})]), 'run.json').records).toHaveLength(1);
  });
});
