import { BudgetLevel, InvoiceStatus, Tier, type Invoice, type InvoiceLine } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { featureTotals, formatBalance, formatBudget, formatInvoice } from './finops-format.js';
import { table } from './table.js';

const line = (feature: string, requests: number, amountMicros: number, gpuCostMicros: number, costBasis = 'gpu-hour'): InvoiceLine => ({
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  feature,
  priceVersion: 'v1',
  requests,
  inputTokens: 1000 * requests,
  cachedInputTokens: 100 * requests,
  outputTokens: 500 * requests,
  gpuSeconds: 0.5 * requests,
  amountMicros,
  gpuCostMicros,
  marginMicros: amountMicros - gpuCostMicros,
  marginRatio: 0,
  costPerRequestMicros: 0,
  costPer1kTokensMicros: 0,
  pools: [],
  inputPer1kMicros: 0,
  cachedInputPer1kMicros: 0,
  outputPer1kMicros: 0,
  discount: 0,
  capacityClass: 'on-demand',
  costBasis,
  promptCacheSavingMicros: 15 * requests,
});

describe('featureTotals', () => {
  it("sums a feature's lines across models and price versions, counting input + output tokens as the invoice does", () => {
    const totals = featureTotals([line('chat', 2, 1_000, 400), line('search', 1, 300, 100), { ...line('chat', 1, 700, 200), priceVersion: 'v2' }]);
    expect(totals.get('chat')).toEqual({ requests: 3, tokens: 4_500, amountMicros: 1_700, gpuCostMicros: 600 });
    expect(totals.get('search')).toEqual({ requests: 1, tokens: 1_500, amountMicros: 300, gpuCostMicros: 100 });
  });
});

describe('formats', () => {
  it('right-aligns columns of numbers only', () => {
    expect(
      table([
        ['name', 'n'],
        ['a', '5'],
        ['bb', '10'],
      ]),
    ).toBe('name   n\na      5\nbb    10');
  });

  it('says when a tenant has no budget and shows a scope without a hard limit as "-"', () => {
    expect(formatBudget('acme', undefined)).toMatch(/tenant acme has no budget/);
    const state = { tenant: 'acme', period: '2026-12', periodStartUnixMs: 0, periodEndUnixMs: 0, revision: 4, asOfUnixMs: 0 };
    const scope = {
      feature: 'search',
      softLimitMicros: 900,
      hardLimitMicros: 0,
      spentMicros: 950,
      level: BudgetLevel.BUDGET_LEVEL_SOFT_EXCEEDED,
      remainingMicros: 0,
    };
    expect(formatBudget('acme', { ...state, scopes: [scope] })).toMatch(/search\s+900\s+-\s+950\s+-\s+soft exceeded/);
  });

  it('shows prepaid credit held as the positive amount the credit balance stands for', () => {
    const out = formatBalance({ tenant: 'acme', currency: 'USD', balances: [{ account: 'tenant:acme:prepaid', balanceMicros: -2_000_000 }] });
    expect(out).toMatch(/tenant:acme:prepaid\s+-2000000\s+-2\.000000\s+prepaid credit held: 2000000 µ/);
  });

  it('says how each invoice line was costed: GPU-hours of the platform or tokens of a provider', () => {
    const lines = [{ ...line('chat', 10, 1_120, 1_000), capacityClass: 'reserved' }, line('chat', 4, 1_120, 5_330, 'per-token'), line('chat', 1, 1, 1, '')];
    const inv: Invoice = {
      tenant: 'acme',
      period: '2030-04',
      currency: 'USD',
      periodStartUnixMs: 0,
      periodEndUnixMs: 1,
      status: InvoiceStatus.INVOICE_STATUS_DRAFT,
      lines,
      requests: 15,
      totalTokens: 0,
      amountMicros: 2_241,
      gpuCostMicros: 6_331,
      marginMicros: 0,
      marginRatio: 0,
      costPerRequestMicros: 0,
      costPer1kTokensMicros: 0,
      prepaidCreditMicros: 0,
      amountDueMicros: 0,
      generatedUnixMs: 0,
      creditAppliedMicros: 0,
      reservationFeeMicros: 0,
      promptCacheSavingMicros: 225,
    };
    const out = formatInvoice(inv);
    expect(out).toMatch(/saved by prompt caching\s+225 µ\s+0\.000225 USD/);
    expect(out).toMatch(/^model .*gpu cost µ\s+cost by\s+margin/m);
    expect(out).toMatch(/reserved\s+10 .*1120\s+1000\s+gpu-hour\s/);
    expect(out).toMatch(/on-demand\s+4 .*1120\s+5330\s+per-token\s/);
    // Billing from before provider pools sends no basis: its costs were GPU-hours.
    expect(out).toMatch(/on-demand\s+1 .*\s1\s+1\s+gpu-hour\s/);
  });
});
