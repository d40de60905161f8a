import { describe, expect, it } from 'vitest';
import { checkCompletions, emptyCompletionCheck, type Completion } from './completion-check.js';
import { formatReport, reconciliationReport, type ReconciliationInput } from './reconciliation.js';

const NOW = Date.UTC(2031, 4, 1, 12);
const done = (requestId: string, agoMs: number, tenant = 'acme'): Completion => ({ requestId, tenant, completedMs: NOW - agoMs });

describe('checkCompletions', () => {
  it('lists every completed request older than the grace that has no metered usage', () => {
    const check = checkCompletions(emptyCompletionCheck(60_000), [done('r1', 600_000), done('r2', 300_000, 'beta'), done('r3', 61_000)], new Set(['r1']), NOW);
    expect(check).toEqual({ checked: 3, recent: 0, graceMs: 60_000, unmetered: [done('r2', 300_000, 'beta'), done('r3', 61_000)] });
  });

  it('counts completions within the grace without checking them: metering may not have caught up', () => {
    const check = checkCompletions(emptyCompletionCheck(60_000), [done('old', 60_000), done('new', 59_999), done('now', 0)], new Set(), NOW);
    expect(check).toMatchObject({ checked: 1, recent: 2, unmetered: [done('old', 60_000)] });
  });

  it('adds batches up, and counts a request completed twice in a batch once', () => {
    let check = checkCompletions(emptyCompletionCheck(0), [done('a', 10), done('a', 10), done('b', 5)], new Set(['b']), NOW);
    check = checkCompletions(check, [done('c', 1)], new Set(), NOW);
    expect(check).toEqual({ checked: 3, recent: 0, graceMs: 0, unmetered: [done('a', 10), done('c', 1)] });
  });
});

describe('completions in the reconciliation report', () => {
  const books: ReconciliationInput = {
    startMs: NOW - 3_600_000,
    endMs: NOW,
    meteringAvailable: true,
    metered: [],
    ledger: [],
    unbalanced: [],
    amountMismatches: [],
    repriced: [],
    accounts: [],
    gpuCost: [],
    trialBalance: { debitMicros: 0, creditMicros: 0 },
  };

  it('is not OK while a completed request is unmetered, and names it with its tenant and time', () => {
    const report = reconciliationReport({ ...books, completions: { checked: 5, recent: 2, graceMs: 60_000, unmetered: [done('req-9', 120_000, 'beta')] } });
    expect(report.ok).toBe(false);
    const text = formatReport(report);
    expect(text).toMatch(/DIFFERENCES FOUND/);
    expect(text).toContain('lifecycle 5 completed requests checked against metered usage; 2 completed in the last 60 s not checked (metering lags)');
    expect(text).toContain('completed requests without metered usage: 1');
    expect(text).toContain('request req-9 (beta) completed 2031-05-01T11:58:00Z: no metered usage');
  });

  it('is OK when every completed request was metered, and says when completions were not checked at all', () => {
    expect(reconciliationReport({ ...books, completions: { checked: 5, recent: 0, graceMs: 60_000, unmetered: [] } }).ok).toBe(true);
    const unchecked = reconciliationReport(books);
    expect(unchecked.ok).toBe(true);
    expect(formatReport(unchecked)).toContain('lifecycle completions not checked against metered usage');
  });
});
