import { tierFromText } from '@switchyard/contracts';
import type { MeteredHour } from '@switchyard/usage-store';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import type { Completion, CompletionCheck } from './completion-check.js';
import { feeHours, type Reservation } from './reservation.js';

/** Quantities of one tenant in one hour, from one side (metering or the ledger): the shape metering reads out. */
export type HourQuantities = MeteredHour;

const FIELDS = ['requests', 'inputTokens', 'cachedInputTokens', 'outputTokens', 'gpuMicros'] as const;
export type QuantityField = (typeof FIELDS)[number];

export interface QuantityDifference {
  readonly tenant: string;
  readonly hourMs: number;
  readonly field: QuantityField;
  readonly metered: number;
  readonly ledger: number;
}

/** Every (tenant, hour, quantity) where metering and the ledger disagree. */
export function diffQuantities(metered: readonly HourQuantities[], ledger: readonly HourQuantities[]): QuantityDifference[] {
  const key = (q: HourQuantities) => `${q.tenant}\u0000${q.hourMs}`;
  const m = new Map(metered.map((q) => [key(q), q]));
  const l = new Map(ledger.map((q) => [key(q), q]));
  const out: QuantityDifference[] = [];
  for (const k of [...new Set([...m.keys(), ...l.keys()])].sort()) {
    const a = m.get(k);
    const b = l.get(k);
    const base = (a ?? b)!;
    for (const field of FIELDS) {
      const mv = a?.[field] ?? 0;
      const lv = b?.[field] ?? 0;
      if (mv !== lv) out.push({ tenant: base.tenant, hourMs: base.hourMs, field, metered: mv, ledger: lv });
    }
  }
  return out;
}

/** A usage transaction as posted, to price again from the version it names. */
export interface PostedUsage {
  readonly transactionId: string;
  readonly usageId: string;
  readonly model: string;
  readonly tier: string;
  readonly capacityClass: string;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly amountMicros: number;
  readonly priceVersion: string;
}

export interface RepriceMismatch {
  readonly transactionId: string;
  readonly usageId: string;
  readonly amountMicros: number;
  /** What the named version says it should cost; undefined when it cannot be priced. */
  readonly expectedMicros: number | undefined;
  readonly reason: string;
}

/** Transactions whose amount is not what their recorded price version gives. */
export function repriceMismatches(rows: readonly PostedUsage[], books: ReadonlyMap<string, PriceBook>): RepriceMismatch[] {
  const out: RepriceMismatch[] = [];
  for (const r of rows) {
    const book = books.get(r.priceVersion);
    if (!book) {
      out.push({
        transactionId: r.transactionId,
        usageId: r.usageId,
        amountMicros: r.amountMicros,
        expectedMicros: undefined,
        reason: `price version ${r.priceVersion} is not in the price book`,
      });
      continue;
    }
    let expected: number;
    try {
      expected = priceUsage(
        {
          usageId: r.usageId,
          requestId: '',
          tenant: '',
          feature: '',
          model: r.model,
          tier: tierFromText(r.tier),
          pool: '',
          gpuSeconds: 0,
          recordedUnixMs: 0,
          usage: { inputTokens: r.inputTokens, cachedInputTokens: r.cachedInputTokens, outputTokens: r.outputTokens },
        },
        book,
        { capacityClass: r.capacityClass },
      ).amountMicros;
    } catch (e) {
      out.push({ transactionId: r.transactionId, usageId: r.usageId, amountMicros: r.amountMicros, expectedMicros: undefined, reason: (e as Error).message });
      continue;
    }
    if (expected !== r.amountMicros)
      out.push({
        transactionId: r.transactionId,
        usageId: r.usageId,
        amountMicros: r.amountMicros,
        expectedMicros: expected,
        reason: 'amount differs from its price version',
      });
  }
  return out;
}

/** A transaction whose entries do not balance (should be impossible: a trigger refuses it). */
export interface UnbalancedTransaction {
  readonly transactionId: string;
  readonly entries: number;
  readonly debitMicros: number;
  readonly creditMicros: number;
}

/** A usage transaction whose amount column disagrees with its entries. */
export interface AmountMismatch {
  readonly transactionId: string;
  readonly usageId: string;
  readonly amountMicros: number;
  readonly debitMicros: number;
  readonly creditMicros: number;
}

/** An account whose running totals disagree with the sum of its entries. */
export interface AccountMismatch {
  readonly account: string;
  readonly debitMicros: number;
  readonly creditMicros: number;
  readonly entryDebitMicros: number;
  readonly entryCreditMicros: number;
}

/** GPU cost accrued for a pool (its cost transactions) against the GPU cost of the usage posted on it. */
export interface GpuCostCheck {
  readonly pool: string;
  readonly accountMicros: number;
  readonly usageMicros: number;
}

/** One reservation fee transaction as posted. */
export interface PostedFee {
  readonly reservationId: string;
  readonly hourMs: number;
  readonly amountMicros: number;
}

/** A reservation-hour charged wrongly, charged without a reservation, or due and not charged. */
export interface FeeDifference {
  readonly reservationId: string;
  readonly hourMs: number;
  readonly chargedMicros: number | undefined;
  readonly expectedMicros: number | undefined;
}

/**
 * Every reservation-hour of [startMs, endMs) against its fee: the amount its pinned terms
 * give, pro rata; hours ending before `dueBeforeMs` must have been charged.
 */
export function checkReservationFees(
  reservations: readonly Reservation[],
  posted: readonly PostedFee[],
  window: { startMs: number; endMs: number; dueBeforeMs: number },
): FeeDifference[] {
  const key = (id: string, h: number) => `${id}\u0000${h}`;
  const charged = new Map(posted.map((p) => [key(p.reservationId, p.hourMs), p]));
  const expected = new Map<string, { reservationId: string; hourMs: number; amountMicros: number }>();
  for (const r of reservations)
    for (const h of feeHours(r, window.startMs, Math.min(window.endMs, window.dueBeforeMs)))
      if (h.hourMs < window.endMs) expected.set(key(r.id, h.hourMs), { reservationId: r.id, hourMs: h.hourMs, amountMicros: h.amountMicros });
  const byId = new Map(reservations.map((r) => [r.id, r]));
  const out: FeeDifference[] = [];
  for (const p of posted) {
    const r = byId.get(p.reservationId);
    const due = r ? feeHours(r, p.hourMs, Number.MAX_SAFE_INTEGER)[0] : undefined;
    const want = due && due.hourMs === p.hourMs ? due.amountMicros : undefined;
    if (want !== p.amountMicros) out.push({ reservationId: p.reservationId, hourMs: p.hourMs, chargedMicros: p.amountMicros, expectedMicros: want });
  }
  for (const [k, e] of expected)
    if (!charged.has(k)) out.push({ reservationId: e.reservationId, hourMs: e.hourMs, chargedMicros: undefined, expectedMicros: e.amountMicros });
  return out.sort((a, b) => a.hourMs - b.hourMs || (a.reservationId < b.reservationId ? -1 : 1));
}

/** One pool-hour: the worker-minutes sampled against the idle GPU time accrued for it. */
export interface IdleHour {
  readonly pool: string;
  readonly hourMs: number;
  readonly sampledWorkerMinutes: number;
  /** Provisioned GPU-seconds the accrual recorded; undefined when there is none. */
  readonly accruedGpuSeconds: number | undefined;
  readonly idleCostMicros: number;
  readonly provisionedCostMicros: number;
  /** Whether billing prices this pool (it has accrued idle time before), so the hour is due. */
  readonly priced: boolean;
}

export interface IdleDifference {
  readonly pool: string;
  readonly hourMs: number;
  readonly reason: string;
}

/**
 * Each pool-hour's idle accrual against the fleet sampled in it: the provisioned GPU time it
 * recorded equals the sampled worker-minutes, its idle cost is within the provisioned cost,
 * and every closed hour of a priced pool (ending before `dueBeforeMs`) was accrued.
 */
export function checkIdleAccruals(hours: readonly IdleHour[], dueBeforeMs: number): IdleDifference[] {
  const out: IdleDifference[] = [];
  for (const h of hours) {
    if (h.accruedGpuSeconds === undefined) {
      if (h.priced && h.hourMs + 3_600_000 <= dueBeforeMs)
        out.push({ pool: h.pool, hourMs: h.hourMs, reason: `${h.sampledWorkerMinutes} worker-minutes sampled, no idle accrual` });
      continue;
    }
    if (h.accruedGpuSeconds !== h.sampledWorkerMinutes * 60)
      out.push({ pool: h.pool, hourMs: h.hourMs, reason: `accrued ${h.accruedGpuSeconds} GPU-s provisioned, sampled ${h.sampledWorkerMinutes * 60}` });
    if (h.idleCostMicros > h.provisionedCostMicros)
      out.push({ pool: h.pool, hourMs: h.hourMs, reason: `idle cost ${h.idleCostMicros} exceeds the provisioned cost ${h.provisionedCostMicros}` });
  }
  return out;
}

/** A prepaid account holding less than nothing (should be impossible: postings lock it). */
export interface OverdrawnPrepaid {
  readonly account: string;
  readonly balanceMicros: number;
}

/**
 * A month's budget spend (what billing publishes and admission enforces) unlike the ledger's
 * usage less reversals of that tenant, feature ('' for the tenant-wide one) and month.
 */
export interface BudgetSpendDifference {
  readonly tenant: string;
  readonly feature: string;
  /** `YYYY-MM`. */
  readonly period: string;
  readonly budgetSpendMicros: number;
  readonly ledgerMicros: number;
}

/** Money beside usage in the window: what credit paid, what reservations and idle GPUs cost. */
export interface MoneyTotals {
  readonly creditAppliedMicros: number;
  readonly reservationFeeMicros: number;
  readonly idleGpuCostMicros: number;
}

export interface ReconciliationInput {
  readonly startMs: number;
  readonly endMs: number;
  /** False when metering's tables do not exist (metering never ran on this database). */
  readonly meteringAvailable: boolean;
  readonly metered: readonly HourQuantities[];
  readonly ledger: readonly HourQuantities[];
  readonly unbalanced: readonly UnbalancedTransaction[];
  readonly amountMismatches: readonly AmountMismatch[];
  readonly repriced: readonly RepriceMismatch[];
  readonly accounts: readonly AccountMismatch[];
  readonly gpuCost: readonly GpuCostCheck[];
  /** Sums over every account, all time. */
  readonly trialBalance: { readonly debitMicros: number; readonly creditMicros: number };
  /** Requests LIFECYCLE says completed in the window, against metered usage; undefined when not checked. */
  readonly completions?: CompletionCheck;
  /** Prepaid accounts below zero (all time). Default none. */
  readonly overdrawnPrepaid?: readonly OverdrawnPrepaid[];
  /** Reservation fees unlike their terms, or due and missing. Default none. */
  readonly reservationFees?: readonly FeeDifference[];
  /** Idle accruals unlike the sampled fleet, or due and missing. Default none. */
  readonly idleAccruals?: readonly IdleDifference[];
  /** Budget spend unlike the ledger, in the months the window touches. Default none. */
  readonly budgetSpend?: readonly BudgetSpendDifference[];
  readonly money?: MoneyTotals;
}

export interface Totals {
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly gpuMicros: number;
}

/** The input's checks, with the metered and ledger quantities summed and compared. */
export interface ReconciliationReport extends Omit<ReconciliationInput, 'metered' | 'ledger'> {
  readonly ok: boolean;
  readonly metered: Totals;
  readonly ledger: Totals;
  /** Sum of |metered - ledger| over every tenant, hour and token field. */
  readonly tokenDifference: number;
  readonly differences: readonly QuantityDifference[];
}

const totals = (qs: readonly HourQuantities[]): Totals => {
  const t = { requests: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, gpuMicros: 0 };
  for (const q of qs) for (const f of FIELDS) t[f] += q[f];
  return t;
};

/**
 * Proves metered quantities equal ledger quantities per tenant and hour, and that the
 * ledger balances: every transaction, every account against its entries, the whole trial
 * balance, each usage amount against its entries and its price version, and each pool's
 * accrued GPU cost against the usage it served. Anything else is a reported difference.
 */
export function reconciliationReport(input: ReconciliationInput): ReconciliationReport {
  const differences = diffQuantities(input.metered, input.ledger);
  const gpuCost = input.gpuCost.filter((g) => g.accountMicros !== g.usageMicros);
  const tokenDifference = differences.filter((d) => d.field !== 'gpuMicros' && d.field !== 'requests').reduce((s, d) => s + Math.abs(d.metered - d.ledger), 0);
  const ok =
    input.meteringAvailable &&
    differences.length === 0 &&
    input.unbalanced.length === 0 &&
    input.amountMismatches.length === 0 &&
    input.repriced.length === 0 &&
    input.accounts.length === 0 &&
    gpuCost.length === 0 &&
    input.trialBalance.debitMicros === input.trialBalance.creditMicros &&
    (input.completions?.unmetered.length ?? 0) === 0 &&
    (input.overdrawnPrepaid?.length ?? 0) === 0 &&
    (input.reservationFees?.length ?? 0) === 0 &&
    (input.idleAccruals?.length ?? 0) === 0 &&
    (input.budgetSpend?.length ?? 0) === 0;
  return {
    ok,
    startMs: input.startMs,
    endMs: input.endMs,
    meteringAvailable: input.meteringAvailable,
    metered: totals(input.metered),
    ledger: totals(input.ledger),
    tokenDifference,
    differences,
    unbalanced: input.unbalanced,
    amountMismatches: input.amountMismatches,
    repriced: input.repriced,
    accounts: input.accounts,
    gpuCost,
    trialBalance: input.trialBalance,
    completions: input.completions,
    overdrawnPrepaid: input.overdrawnPrepaid ?? [],
    reservationFees: input.reservationFees ?? [],
    idleAccruals: input.idleAccruals ?? [],
    budgetSpend: input.budgetSpend ?? [],
    money: input.money,
  };
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A report people read: one summary line, then one line per difference (at most `limit`). */
export function formatReport(r: ReconciliationReport, limit = 50): string {
  const lines = [
    `reconciliation ${iso(r.startMs)} .. ${iso(r.endMs)}: ${r.ok ? 'OK' : 'DIFFERENCES FOUND'}`,
    `  metered  ${r.metered.requests} requests, ${r.metered.inputTokens} input (${r.metered.cachedInputTokens} cached) + ${r.metered.outputTokens} output tokens, ${(r.metered.gpuMicros / 1e6).toFixed(3)} GPU-s`,
    `  ledger   ${r.ledger.requests} requests, ${r.ledger.inputTokens} input (${r.ledger.cachedInputTokens} cached) + ${r.ledger.outputTokens} output tokens, ${(r.ledger.gpuMicros / 1e6).toFixed(3)} GPU-s`,
    `  token difference ${r.tokenDifference}; trial balance ${r.trialBalance.debitMicros} debit vs ${r.trialBalance.creditMicros} credit micros`,
  ];
  if (r.money) {
    const m = r.money;
    lines.push(
      `  money    ${m.creditAppliedMicros} micros of prepaid credit applied, ${m.reservationFeeMicros} of reservation fees, ${m.idleGpuCostMicros} of idle GPU cost`,
    );
  }
  if (r.completions) {
    const c = r.completions;
    lines.push(
      `  lifecycle ${c.checked} completed requests checked against metered usage; ${c.recent} completed in the last ${c.graceMs / 1000} s not checked (metering lags)`,
    );
  } else {
    lines.push('  lifecycle completions not checked against metered usage');
  }
  if (!r.meteringAvailable) lines.push('  metering tables are missing: has metering run against this database?');
  const more = (items: readonly unknown[], render: (x: never) => string, label: string) => {
    if (!items.length) return;
    lines.push(`  ${label}: ${items.length}`);
    for (const x of items.slice(0, limit)) lines.push(`    ${render(x as never)}`);
    if (items.length > limit) lines.push(`    ... ${items.length - limit} more`);
  };
  more(r.differences, (d: QuantityDifference) => `${d.tenant} ${iso(d.hourMs)} ${d.field}: metered ${d.metered}, ledger ${d.ledger}`, 'quantity differences');
  more(
    r.unbalanced,
    (u: UnbalancedTransaction) => `transaction ${u.transactionId}: ${u.entries} entries, ${u.debitMicros} debit vs ${u.creditMicros} credit`,
    'unbalanced transactions',
  );
  more(
    r.amountMismatches,
    (a: AmountMismatch) => `transaction ${a.transactionId} (${a.usageId}): amount ${a.amountMicros}, entries ${a.debitMicros}/${a.creditMicros}`,
    'amounts unlike their entries',
  );
  more(
    r.repriced,
    (p: RepriceMismatch) => `transaction ${p.transactionId} (${p.usageId}): ${p.amountMicros} vs ${p.expectedMicros ?? '?'}: ${p.reason}`,
    'amounts unlike their price version',
  );
  more(
    r.accounts,
    (a: AccountMismatch) => `${a.account}: totals ${a.debitMicros}/${a.creditMicros}, entries ${a.entryDebitMicros}/${a.entryCreditMicros}`,
    'account totals unlike their entries',
  );
  more(r.gpuCost, (g: GpuCostCheck) => `${g.pool}: accrued ${g.accountMicros}, usage ${g.usageMicros}`, 'GPU cost accrued unlike its usage');
  more(r.overdrawnPrepaid ?? [], (o: OverdrawnPrepaid) => `${o.account}: ${o.balanceMicros}`, 'prepaid credit below zero');
  more(
    r.reservationFees ?? [],
    (f: FeeDifference) => `reservation ${f.reservationId} ${iso(f.hourMs)}: charged ${f.chargedMicros ?? 'nothing'}, expected ${f.expectedMicros ?? 'nothing'}`,
    'reservation fees unlike their terms',
  );
  more(r.idleAccruals ?? [], (d: IdleDifference) => `${d.pool} ${iso(d.hourMs)}: ${d.reason}`, 'idle GPU accruals unlike the fleet');
  more(
    r.budgetSpend ?? [],
    (b: BudgetSpendDifference) =>
      `${b.tenant}${b.feature ? ` feature ${b.feature}` : ''} ${b.period}: budget spend ${b.budgetSpendMicros}, ledger ${b.ledgerMicros}`,
    'budget spend unlike the ledger',
  );
  more(
    r.completions?.unmetered ?? [],
    (c: Completion) => `request ${c.requestId} (${c.tenant}) completed ${iso(c.completedMs)}: no metered usage`,
    'completed requests without metered usage',
  );
  return lines.join('\n');
}
