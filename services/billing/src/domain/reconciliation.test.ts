import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import {
  checkIdleAccruals,
  checkReservationFees,
  diffQuantities,
  formatReport,
  reconciliationReport,
  repriceMismatches,
  type HourQuantities,
  type ReconciliationInput,
} from './reconciliation.js';

const q = (over: Partial<HourQuantities> = {}): HourQuantities => ({
  tenant: 'acme',
  hourMs: 0,
  requests: 2,
  inputTokens: 100,
  cachedInputTokens: 10,
  outputTokens: 50,
  gpuMicros: 1_000,
  ...over,
});
const clean: ReconciliationInput = {
  startMs: 0,
  endMs: 3_600_000,
  meteringAvailable: true,
  metered: [q()],
  ledger: [q()],
  unbalanced: [],
  amountMismatches: [],
  repriced: [],
  accounts: [],
  gpuCost: [{ pool: 'p', accountMicros: 5, usageMicros: 5 }],
  trialBalance: { debitMicros: 9, creditMicros: 9 },
};

describe('reconciliation', () => {
  it('is clean when both sides agree and the ledger balances', () => {
    const report = reconciliationReport(clean);
    expect(report).toMatchObject({ ok: true, tokenDifference: 0, differences: [], gpuCost: [] });
    expect(formatReport(report)).toMatch(/: OK\n/);
  });

  it('reports every tenant-hour quantity that differs, including hours only one side has', () => {
    const diffs = diffQuantities([q(), q({ tenant: 'b', hourMs: 3_600_000 })], [q({ outputTokens: 49 }), q({ tenant: 'c' })]);
    expect(diffs).toEqual([
      { tenant: 'acme', hourMs: 0, field: 'outputTokens', metered: 50, ledger: 49 },
      { tenant: 'b', hourMs: 3_600_000, field: 'requests', metered: 2, ledger: 0 },
      { tenant: 'b', hourMs: 3_600_000, field: 'inputTokens', metered: 100, ledger: 0 },
      { tenant: 'b', hourMs: 3_600_000, field: 'cachedInputTokens', metered: 10, ledger: 0 },
      { tenant: 'b', hourMs: 3_600_000, field: 'outputTokens', metered: 50, ledger: 0 },
      { tenant: 'b', hourMs: 3_600_000, field: 'gpuMicros', metered: 1_000, ledger: 0 },
      { tenant: 'c', hourMs: 0, field: 'requests', metered: 0, ledger: 2 },
      { tenant: 'c', hourMs: 0, field: 'inputTokens', metered: 0, ledger: 100 },
      { tenant: 'c', hourMs: 0, field: 'cachedInputTokens', metered: 0, ledger: 10 },
      { tenant: 'c', hourMs: 0, field: 'outputTokens', metered: 0, ledger: 50 },
      { tenant: 'c', hourMs: 0, field: 'gpuMicros', metered: 0, ledger: 1_000 },
    ]);
    const report = reconciliationReport({ ...clean, ledger: [q({ outputTokens: 49 })] });
    expect(report).toMatchObject({ ok: false, tokenDifference: 1 });
    expect(formatReport(report)).toContain('acme 1970-01-01T00:00:00Z outputTokens: metered 50, ledger 49');
  });

  it('fails on any broken ledger invariant, and when metering never ran', () => {
    expect(reconciliationReport({ ...clean, trialBalance: { debitMicros: 1, creditMicros: 2 } }).ok).toBe(false);
    expect(reconciliationReport({ ...clean, gpuCost: [{ pool: 'p', accountMicros: 4, usageMicros: 5 }] }).ok).toBe(false);
    expect(reconciliationReport({ ...clean, unbalanced: [{ transactionId: '1', entries: 1, debitMicros: 1, creditMicros: 0 }] }).ok).toBe(false);
    expect(reconciliationReport({ ...clean, meteringAvailable: false }).ok).toBe(false);
  });

  it('prices each transaction again from the version it names', () => {
    const row = {
      transactionId: '7',
      usageId: 'u',
      model: 'llama-3.1-8b',
      tier: 'batch',
      capacityClass: '',
      inputTokens: 1000,
      cachedInputTokens: 0,
      outputTokens: 0,
      amountMicros: 100,
      priceVersion: 'v1',
    };
    const books = new Map([['v1', DEFAULT_PRICE_BOOK]]);
    expect(repriceMismatches([row], books)).toEqual([]);
    expect(repriceMismatches([{ ...row, amountMicros: 101 }], books)).toMatchObject([{ expectedMicros: 100 }]);
    expect(repriceMismatches([{ ...row, priceVersion: 'v0' }], books)).toMatchObject([{ reason: 'price version v0 is not in the price book' }]);
  });
});

describe('money beside usage', () => {
  const H = 3_600_000;
  const T = Date.UTC(2030, 0, 15, 10);
  const r = {
    id: 'res-1',
    tenant: 'acme',
    pools: ['p'],
    model: 'llama-3.1-8b',
    gpus: 2,
    startMs: T + H / 2,
    endMs: T + 10 * H,
    feePerGpuHourMicros: 1_000_000,
    priceVersion: 'v1',
  };

  it('holds each reservation fee to its pinned terms, and reports hours due but not charged', () => {
    const window = { startMs: T, endMs: T + 4 * H, dueBeforeMs: T + 3 * H + 1 };
    const ok = [
      { reservationId: 'res-1', hourMs: T, amountMicros: 1_000_000 },
      { reservationId: 'res-1', hourMs: T + H, amountMicros: 2_000_000 },
      { reservationId: 'res-1', hourMs: T + 2 * H, amountMicros: 2_000_000 },
    ];
    expect(checkReservationFees([r], ok, window)).toEqual([]);
    expect(checkReservationFees([r], [ok[0]!, { ...ok[1]!, amountMicros: 1 }, { reservationId: 'ghost', hourMs: T, amountMicros: 5 }], window)).toEqual([
      { reservationId: 'ghost', hourMs: T, chargedMicros: 5, expectedMicros: undefined },
      { reservationId: 'res-1', hourMs: T + H, chargedMicros: 1, expectedMicros: 2_000_000 },
      { reservationId: 'res-1', hourMs: T + 2 * H, chargedMicros: undefined, expectedMicros: 2_000_000 },
    ]);
  });

  it('holds each idle accrual to the fleet sampled in its hour, and reports closed hours of priced pools not accrued', () => {
    const hour = { pool: 'p', hourMs: T, sampledWorkerMinutes: 30, accruedGpuSeconds: 1_800, idleCostMicros: 10, provisionedCostMicros: 20, priced: true };
    expect(checkIdleAccruals([hour], T + 2 * H)).toEqual([]);
    expect(
      checkIdleAccruals(
        [
          { ...hour, sampledWorkerMinutes: 31 },
          { ...hour, hourMs: T + H, accruedGpuSeconds: undefined },
          { ...hour, hourMs: T + 2 * H, accruedGpuSeconds: undefined },
          { ...hour, pool: 'unpriced', accruedGpuSeconds: undefined, priced: false },
        ],
        T + 2 * H,
      ).map((d) => [d.hourMs - T, d.reason]),
    ).toEqual([
      [0, 'accrued 1800 GPU-s provisioned, sampled 1860'],
      [H, '30 worker-minutes sampled, no idle accrual'],
    ]);
  });
});
