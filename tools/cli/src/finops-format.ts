import { BudgetLevel, InvoiceStatus, tierLabel, type BudgetState, type GetBalanceResponse, type Invoice, type InvoiceLine } from '@switchyard/contracts';
import { table } from './table.js';

/** Micros as the currency: 1234567 -> "1.234567 USD". */
export const units = (micros: number, currency: string) => `${(micros / 1_000_000).toFixed(6)} ${currency}`;
const num = (n: number, digits = 0) => n.toFixed(digits);
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

const LEVEL: Record<number, string> = {
  [BudgetLevel.BUDGET_LEVEL_OK]: 'ok',
  [BudgetLevel.BUDGET_LEVEL_SOFT_EXCEEDED]: 'soft exceeded',
  [BudgetLevel.BUDGET_LEVEL_HARD_EXCEEDED]: 'hard exceeded',
};

/** `switchyard budget get`: every budget scope of the tenant with its spend this month. */
export function formatBudget(tenant: string, state: BudgetState | undefined): string {
  if (!state || state.scopes.length === 0) return `tenant ${tenant} has no budget (set one with \`switchyard budget set\`)`;
  const rows = [['feature', 'soft µ', 'hard µ', 'spent µ', 'remaining µ', 'level']];
  for (const s of state.scopes) {
    rows.push([
      s.feature || '(whole tenant)',
      s.softLimitMicros ? num(s.softLimitMicros) : '-',
      s.hardLimitMicros ? num(s.hardLimitMicros) : '-',
      num(s.spentMicros),
      s.hardLimitMicros ? num(s.remainingMicros) : '-',
      LEVEL[s.level] ?? 'unknown',
    ]);
  }
  return `tenant ${state.tenant || tenant}, ${state.period} (revision ${state.revision})\n${table(rows)}`;
}

/** What an account's balance (debits minus credits) means to the tenant. */
function meaning(account: string, micros: number): string {
  if (account.endsWith(':prepaid')) return `prepaid credit held: ${num(-micros)} µ`;
  if (account.endsWith(':receivable')) return micros >= 0 ? `owed by the tenant: ${num(micros)} µ` : `owed to the tenant: ${num(-micros)} µ`;
  return '';
}

/** `switchyard balance`: the tenant's ledger accounts, balances as billing returns them (debits minus credits). */
export function formatBalance(r: GetBalanceResponse): string {
  if (r.balances.length === 0) return `tenant ${r.tenant} has no ledger accounts yet`;
  const rows = [
    ['account', 'debits - credits µ', r.currency, ''],
    ...r.balances.map((b) => [b.account, num(b.balanceMicros), (b.balanceMicros / 1_000_000).toFixed(6), meaning(b.account, b.balanceMicros)]),
  ];
  return table(rows);
}

interface FeatureTotals {
  requests: number;
  tokens: number;
  amountMicros: number;
  gpuCostMicros: number;
}

/**
 * Sums of the invoice's lines per feature, with cost per request and per 1K tokens and margin
 * computed as billing computes them for the invoice's totals (tokens = input + output).
 */
export function featureTotals(lines: readonly InvoiceLine[]): Map<string, FeatureTotals> {
  const out = new Map<string, FeatureTotals>();
  for (const l of lines) {
    const f = out.get(l.feature) ?? { requests: 0, tokens: 0, amountMicros: 0, gpuCostMicros: 0 };
    f.requests += l.requests;
    f.tokens += l.inputTokens + l.outputTokens;
    f.amountMicros += l.amountMicros;
    f.gpuCostMicros += l.gpuCostMicros;
    out.set(l.feature, f);
  }
  return out;
}

const per = (a: number, b: number) => (b > 0 ? a / b : 0);

/**
 * `switchyard invoice`: lines, totals per feature and for the month, prepaid credit and what is
 * due. A line's "cost by" says how its GPU cost was computed: `gpu-hour` (GPU time of the
 * platform's pools) or `per-token` (tokens a provider pool charged for); billing from before
 * provider pools sends none, which meant GPU-hours.
 */
export function formatInvoice(inv: Invoice): string {
  const c = inv.currency;
  const status = inv.status === InvoiceStatus.INVOICE_STATUS_FINAL ? 'final' : inv.status === InvoiceStatus.INVOICE_STATUS_DRAFT ? 'draft' : 'unknown status';
  const out = [`invoice of tenant ${inv.tenant}, ${inv.period} (${status}), in ${c}`];
  if (inv.lines.length === 0) {
    out.push('no billed usage this month');
  } else {
    const rows = [
      [
        'model',
        'tier',
        'feature',
        'price',
        'class',
        'requests',
        'input',
        'cached',
        'output',
        'gpu s',
        'amount µ',
        'gpu cost µ',
        'cost by',
        'margin',
        'µ/request',
        'µ/1K tok',
      ],
    ];
    for (const l of inv.lines) {
      rows.push([
        l.model,
        tierLabel(l.tier),
        l.feature,
        l.priceVersion,
        l.capacityClass || '-',
        num(l.requests),
        num(l.inputTokens),
        num(l.cachedInputTokens),
        num(l.outputTokens),
        num(l.gpuSeconds, 1),
        num(l.amountMicros),
        num(l.gpuCostMicros),
        l.costBasis || 'gpu-hour',
        pct(l.marginRatio),
        num(l.costPerRequestMicros, 1),
        num(l.costPer1kTokensMicros, 1),
      ]);
    }
    out.push('', table(rows), '', 'per feature');
    const frows = [['feature', 'requests', 'tokens', 'amount µ', 'gpu cost µ', 'margin', 'µ/request', 'µ/1K tok']];
    for (const [feature, f] of featureTotals(inv.lines)) {
      frows.push([
        feature,
        num(f.requests),
        num(f.tokens),
        num(f.amountMicros),
        num(f.gpuCostMicros),
        pct(per(f.amountMicros - f.gpuCostMicros, f.amountMicros)),
        num(per(f.amountMicros, f.requests), 1),
        num(per(f.amountMicros * 1000, f.tokens), 1),
      ]);
    }
    out.push(table(frows));
  }
  out.push(
    '',
    table([
      ['requests', num(inv.requests)],
      ['tokens', num(inv.totalTokens)],
      ['amount', `${num(inv.amountMicros)} µ  ${units(inv.amountMicros, c)}`],
      ['gpu cost', `${num(inv.gpuCostMicros)} µ  ${units(inv.gpuCostMicros, c)}`],
      ['margin', `${num(inv.marginMicros)} µ  ${pct(inv.marginRatio)}`],
      ['cost per request', `${num(inv.costPerRequestMicros, 1)} µ`],
      ['cost per 1K tokens', `${num(inv.costPer1kTokensMicros, 1)} µ`],
      ['saved by prompt caching', `${num(inv.promptCacheSavingMicros)} µ  ${units(inv.promptCacheSavingMicros, c)}`],
      ['reservation fees', `${num(inv.reservationFeeMicros)} µ  ${units(inv.reservationFeeMicros, c)}`],
      ['prepaid credit applied', `${num(inv.creditAppliedMicros)} µ  ${units(inv.creditAppliedMicros, c)}`],
      ['prepaid credit held', `${num(inv.prepaidCreditMicros)} µ  ${units(inv.prepaidCreditMicros, c)}`],
      ['amount due', `${num(inv.amountDueMicros)} µ  ${units(inv.amountDueMicros, c)}`],
    ]),
  );
  return out.join('\n');
}
