import type { JetStreamClient } from '@switchyard/bus';
import { periodOf, type PriceBook } from '@switchyard/pricing';
import { hourQuantitiesOf, meteredHours, meteredRequestIds, type HourRow } from '@switchyard/usage-store';
import type { Sql } from 'postgres';
import { COMPLETION_GRACE_MS, checkCompletions, emptyCompletionCheck, type Completion, type CompletionCheck } from './domain/completion-check.js';
import { readCompletions } from './lifecycle-completions.js';
import { accounts } from './domain/posting.js';
import { loadReservations } from './reservations.js';
import {
  checkIdleAccruals,
  checkReservationFees,
  type FeeDifference,
  type IdleDifference,
  type MoneyTotals,
  type OverdrawnPrepaid,
  reconciliationReport,
  repriceMismatches,
  type AccountMismatch,
  type AmountMismatch,
  type BudgetSpendDifference,
  type HourQuantities,
  type PostedUsage,
  type ReconciliationReport,
  type RepriceMismatch,
  type UnbalancedTransaction,
} from './domain/reconciliation.js';

const HOUR = 3_600_000;

export interface ReconcileOptions {
  /** Widened to whole hours: metering rolls up by minute, reconciliation compares hours. */
  readonly startMs: number;
  readonly endMs: number;
  /** Only this tenant's quantities; the ledger-wide checks run regardless. */
  readonly tenant?: string;
  /** Price-book versions by name, to price every usage again. */
  readonly books: ReadonlyMap<string, PriceBook>;
  /** Also sum every entry of the ledger against the accounts' running totals. Default true. */
  readonly everyEntry?: boolean;
  /**
   * Also hold the requests LIFECYCLE says completed in the window against metering's usage:
   * every one must have been metered. Left out, that check does not run.
   */
  readonly lifecycle?: LifecycleCheckOptions;
  /** The clock, for which reservation-hours and fleet hours are due by now. Default Date.now(). */
  readonly nowMs?: number;
}

/** Fees and idle accruals run every minute; an hour closed longer ago than this must be in the ledger. */
const ACCRUAL_DUE_MS = 15 * 60_000;

export interface LifecycleCheckOptions {
  readonly js: JetStreamClient;
  /** Completions this recent are not checked (metering lags). Default {@link COMPLETION_GRACE_MS}. */
  readonly graceMs?: number;
  /** The clock: reading stops here, and the grace counts back from it. Default Date.now(). */
  readonly nowMs?: number;
}

/**
 * Usage is recorded when the attempt that completed a request ends, as its completion is
 * published; this much on either side of a batch's completion times covers hosts whose clocks
 * disagree, and keeps each lookup to a slice of metering's usage.
 */
const USAGE_SLACK_MS = 5 * 60_000;

/** Which of `completions` metering recorded usage for. */
function meteredCompletions(sql: Sql, completions: readonly Completion[]): Promise<Set<string>> {
  const times = completions.map((c) => c.completedMs);
  return meteredRequestIds(sql, {
    requestIds: completions.map((c) => c.requestId),
    fromMs: Math.min(...times) - USAGE_SLACK_MS,
    toMs: Math.max(...times) + USAGE_SLACK_MS,
  });
}

/** Every request completed in [startMs, min(endMs, now)) against the usage metering recorded for it. */
async function completionChecks(sql: Sql, lifecycle: LifecycleCheckOptions, startMs: number, endMs: number, tenant?: string): Promise<CompletionCheck> {
  const nowMs = lifecycle.nowMs ?? Date.now();
  let check = emptyCompletionCheck(lifecycle.graceMs ?? COMPLETION_GRACE_MS);
  await readCompletions(lifecycle.js, { startMs, endMs: Math.min(endMs, nowMs), tenant }, async (batch) => {
    check = checkCompletions(check, batch, await meteredCompletions(sql, batch), nowMs);
  });
  return check;
}

async function ledgerQuantities(sql: Sql, start: Date, end: Date, tenant?: string): Promise<HourQuantities[]> {
  const rows = await sql<HourRow[]>`
    SELECT tenant, (floor(extract(epoch FROM recorded_at) / 3600) * 3600000)::int8 AS hour_ms, sum(s) AS requests,
           sum(s * input_tokens) AS input, sum(s * cached_input_tokens) AS cached, sum(s * output_tokens) AS output,
           sum(s * floor(gpu_seconds * 1000000 + 0.5))::int8 AS gpu
      FROM (SELECT *, CASE kind WHEN 'reversal' THEN -1 ELSE 1 END AS s FROM ledger_transactions
             WHERE kind IN ('usage', 'reversal') AND recorded_at >= ${start} AND recorded_at < ${end}
             ${tenant ? sql`AND tenant = ${tenant}` : sql``}) t
     GROUP BY 1, 2`;
  return hourQuantitiesOf(rows);
}

/**
 * Transactions that are unbalanced or whose amount disagrees with their entries: usage and
 * reversals recorded in the window, and the other kinds (which have no recorded time)
 * posted in it.
 */
async function entryChecks(sql: Sql, start: Date, end: Date): Promise<{ unbalanced: UnbalancedTransaction[]; amounts: AmountMismatch[] }> {
  const rows = await sql<{ id: string; kind: string; usage_id: string | null; amount: string | null; n: string; d: string; c: string }[]>`
    SELECT t.id, t.kind, t.usage_id, t.amount_micros AS amount, count(e.id) AS n,
           coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'debit'), 0) AS d,
           coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'credit'), 0) AS c
      FROM (SELECT id, kind, usage_id, amount_micros FROM ledger_transactions WHERE recorded_at >= ${start} AND recorded_at < ${end}
            UNION ALL
            SELECT id, kind, usage_id, amount_micros FROM ledger_transactions
             WHERE posted_at >= ${start} AND posted_at < ${end} AND recorded_at IS NULL) t
      LEFT JOIN ledger_entries e ON e.transaction_id = t.id
     GROUP BY t.id, t.kind, t.usage_id, t.amount_micros
    HAVING count(e.id) < 2
        OR coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'debit'), 0) <> coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'credit'), 0)
        OR (t.kind IN ('usage', 'reversal') AND coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'debit'), 0) <> t.amount_micros)`;
  const unbalanced: UnbalancedTransaction[] = [];
  const amounts: AmountMismatch[] = [];
  for (const r of rows) {
    const [d, c, n] = [Number(r.d), Number(r.c), Number(r.n)];
    if (n < 2 || d !== c) unbalanced.push({ transactionId: r.id, entries: n, debitMicros: d, creditMicros: c });
    else amounts.push({ transactionId: r.id, usageId: r.usage_id ?? '', amountMicros: Number(r.amount), debitMicros: d, creditMicros: c });
  }
  return { unbalanced, amounts };
}

async function repriceWindow(sql: Sql, start: Date, end: Date, books: ReadonlyMap<string, PriceBook>): Promise<RepriceMismatch[]> {
  const out: RepriceMismatch[] = [];
  const cursor = sql<
    {
      id: string;
      usage_id: string;
      model: string;
      tier: string;
      capacity_class: string | null;
      input_tokens: number;
      cached_input_tokens: number;
      output_tokens: number;
      amount_micros: string;
      price_version: string;
    }[]
  >`
    SELECT id, usage_id, model, tier, capacity_class, input_tokens, cached_input_tokens, output_tokens, amount_micros, price_version
      FROM ledger_transactions WHERE kind = 'usage' AND recorded_at >= ${start} AND recorded_at < ${end}`.cursor(5_000);
  for await (const rows of cursor) {
    const posted: PostedUsage[] = rows.map((r) => ({
      transactionId: r.id,
      usageId: r.usage_id,
      model: r.model,
      tier: r.tier,
      capacityClass: r.capacity_class ?? '',
      inputTokens: r.input_tokens,
      cachedInputTokens: r.cached_input_tokens,
      outputTokens: r.output_tokens,
      amountMicros: Number(r.amount_micros),
      priceVersion: r.price_version,
    }));
    out.push(...repriceMismatches(posted, books));
  }
  return out;
}

/** Accounts whose running totals disagree with their entries (a scan of every entry), and the trial balance. */
async function accountChecks(sql: Sql, everyEntry: boolean): Promise<{ accounts: AccountMismatch[]; trial: { debitMicros: number; creditMicros: number } }> {
  const mismatched = everyEntry
    ? await sql<{ id: string; d: string; c: string; ed: string; ec: string }[]>`
        SELECT a.id, a.debit_micros AS d, a.credit_micros AS c, coalesce(s.d, 0) AS ed, coalesce(s.c, 0) AS ec
          FROM accounts a LEFT JOIN (
            SELECT account_id, sum(amount_micros) FILTER (WHERE side = 'debit') AS d, sum(amount_micros) FILTER (WHERE side = 'credit') AS c
              FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id
         WHERE a.debit_micros <> coalesce(s.d, 0) OR a.credit_micros <> coalesce(s.c, 0)`
    : [];
  const [trial] = await sql<{ d: string | null; c: string | null }[]>`SELECT sum(debit_micros) AS d, sum(credit_micros) AS c FROM accounts`;
  return {
    accounts: mismatched.map((r) => ({
      account: r.id,
      debitMicros: Number(r.d),
      creditMicros: Number(r.c),
      entryDebitMicros: Number(r.ed),
      entryCreditMicros: Number(r.ec),
    })),
    trial: { debitMicros: Number(trial?.d ?? 0), creditMicros: Number(trial?.c ?? 0) },
  };
}

/**
 * GPU cost accrued per pool against the GPU cost of the usage posted with it. Both are
 * written by the same database transaction, so they share posted_at and compare exactly
 * over any window of posting time.
 */
async function gpuCostChecks(sql: Sql, start: Date, end: Date) {
  const rows = await sql<{ pool: string; accrued: string; usage: string }[]>`
    SELECT pool, sum(amount_micros) FILTER (WHERE kind = 'gpu_cost') AS accrued, coalesce(sum(gpu_cost_micros) FILTER (WHERE kind = 'usage'), 0) AS usage
      FROM ledger_transactions
     WHERE posted_at >= ${start} AND posted_at < ${end} AND kind IN ('usage', 'gpu_cost')
     GROUP BY pool`;
  return rows.map((r) => ({ pool: r.pool, accountMicros: Number(r.accrued ?? 0), usageMicros: Number(r.usage) }));
}

/**
 * Prepaid credit, reservation fees and idle GPU accruals: no prepaid account below zero,
 * every fee of the window as its reservation's pinned terms give and none due missing,
 * every idle accrual equal to the fleet sampled in its hour and none due missing.
 */
async function moneyChecks(
  sql: Sql,
  start: Date,
  end: Date,
  nowMs: number,
): Promise<{ overdrawn: OverdrawnPrepaid[]; fees: FeeDifference[]; idle: IdleDifference[]; money: MoneyTotals }> {
  const dueBeforeMs = nowMs - ACCRUAL_DUE_MS;
  const [overdrawn, posted, reservations, hours, totals] = await Promise.all([
    sql<{ id: string; b: string }[]>`SELECT id, credit_micros - debit_micros AS b FROM accounts WHERE kind = 'prepaid' AND debit_micros > credit_micros`,
    sql<{ id: string; hour_ms: string; amount: string }[]>`
      SELECT split_part(external_id, ':', 2) AS id, (floor(extract(epoch FROM recorded_at) / 3600) * 3600000)::int8 AS hour_ms, amount_micros AS amount
        FROM ledger_transactions WHERE kind = 'reservation_fee' AND recorded_at >= ${start} AND recorded_at < ${end}`,
    loadReservations(sql),
    sql<{ pool: string; hour_ms: string; minutes: string | null; accrued: number | null; idle: string | null; cost: string | null; priced: boolean }[]>`
      WITH sampled AS (
        SELECT pool, (floor(extract(epoch FROM minute) / 3600) * 3600000)::int8 AS hour_ms, count(*) AS minutes
          FROM fleet_minutes WHERE minute >= ${start} AND minute < ${end} GROUP BY 1, 2),
      accrued AS (
        SELECT pool, (extract(epoch FROM recorded_at) * 1000)::int8 AS hour_ms, gpu_seconds, amount_micros, gpu_cost_micros
          FROM ledger_transactions WHERE kind = 'gpu_idle' AND recorded_at >= ${start} AND recorded_at < ${end})
      SELECT coalesce(s.pool, a.pool) AS pool, coalesce(s.hour_ms, a.hour_ms) AS hour_ms, s.minutes, a.gpu_seconds AS accrued,
             a.amount_micros AS idle, a.gpu_cost_micros AS cost,
             EXISTS (SELECT 1 FROM accounts WHERE id = ${accounts.gpuIdle('')} || coalesce(s.pool, a.pool)) AS priced
        FROM sampled s FULL JOIN accrued a ON a.pool = s.pool AND a.hour_ms = s.hour_ms`,
    sql<{ credit: string; fees: string; idle: string }[]>`
      SELECT coalesce(sum(amount_micros) FILTER (WHERE kind = 'credit_applied'), 0) AS credit,
             coalesce(sum(amount_micros) FILTER (WHERE kind = 'reservation_fee'), 0) AS fees,
             coalesce(sum(amount_micros) FILTER (WHERE kind = 'gpu_idle'), 0) AS idle
        FROM ledger_transactions WHERE kind IN ('credit_applied', 'reservation_fee', 'gpu_idle') AND recorded_at >= ${start} AND recorded_at < ${end}`,
  ]);
  return {
    overdrawn: overdrawn.map((o) => ({ account: o.id, balanceMicros: Number(o.b) })),
    fees: checkReservationFees(
      reservations,
      posted.map((p) => ({ reservationId: p.id, hourMs: Number(p.hour_ms), amountMicros: Number(p.amount) })),
      { startMs: start.getTime(), endMs: end.getTime(), dueBeforeMs },
    ),
    idle: checkIdleAccruals(
      hours.map((h) => ({
        pool: h.pool,
        hourMs: Number(h.hour_ms),
        sampledWorkerMinutes: Number(h.minutes ?? 0),
        accruedGpuSeconds: h.accrued ?? undefined,
        idleCostMicros: Number(h.idle ?? 0),
        provisionedCostMicros: Number(h.cost ?? 0),
        priced: h.priced,
      })),
      dueBeforeMs,
    ),
    money: { creditAppliedMicros: Number(totals[0]!.credit), reservationFeeMicros: Number(totals[0]!.fees), idleGpuCostMicros: Number(totals[0]!.idle) },
  };
}

/**
 * Reads both sides of the books for a window and reports every difference: metered against
 * ledger quantities per tenant and hour, plus the ledger's own invariants, and with
 * `lifecycle`, every completed request against metered usage.
 */
/**
 * The budget spend billing publishes and admission enforces, per tenant, feature and month the
 * window touches, against the ledger's usage less reversals recorded in that month: the
 * number admission counts against a budget must be the ledger's.
 */
async function budgetSpendChecks(sql: Sql, startMs: number, endMs: number, tenant?: string): Promise<BudgetSpendDifference[]> {
  const from = new Date(periodOf(startMs).startMs);
  const to = new Date(periodOf(endMs - 1).endMs);
  const rows = await sql<{ tenant: string; feature: string; period: string; ledger: string; budget: string }[]>`
    WITH usage AS (
      SELECT tenant, feature, date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date AS period,
             CASE kind WHEN 'usage' THEN amount_micros ELSE -amount_micros END AS amount
        FROM ledger_transactions
       WHERE kind IN ('usage', 'reversal') AND recorded_at >= ${from} AND recorded_at < ${to}
         ${tenant ? sql`AND tenant = ${tenant}` : sql``}),
    ledger AS (
      SELECT tenant, feature, period, sum(amount) AS amount FROM usage WHERE feature <> '' GROUP BY 1, 2, 3
      UNION ALL
      SELECT tenant, '', period, sum(amount) FROM usage GROUP BY 1, 3),
    budget AS (
      SELECT tenant, feature, period, spent_micros FROM budget_spend
       WHERE period >= ${from}::date AND period < ${to}::date ${tenant ? sql`AND tenant = ${tenant}` : sql``})
    SELECT coalesce(l.tenant, b.tenant) AS tenant, coalesce(l.feature, b.feature) AS feature,
           to_char(coalesce(l.period, b.period), 'YYYY-MM') AS period, coalesce(l.amount, 0) AS ledger, coalesce(b.spent_micros, 0) AS budget
      FROM ledger l FULL JOIN budget b ON b.tenant = l.tenant AND b.feature = l.feature AND b.period = l.period
     WHERE coalesce(l.amount, 0) <> coalesce(b.spent_micros, 0)
     ORDER BY 1, 3, 2`;
  return rows.map((r) => ({ tenant: r.tenant, feature: r.feature, period: r.period, budgetSpendMicros: Number(r.budget), ledgerMicros: Number(r.ledger) }));
}

export async function reconcileLedger(sql: Sql, options: ReconcileOptions): Promise<ReconciliationReport> {
  const startMs = Math.floor(options.startMs / HOUR) * HOUR;
  const endMs = Math.ceil(options.endMs / HOUR) * HOUR;
  const [start, end] = [new Date(startMs), new Date(endMs)];
  const [metered, ledger, entries, repriced, accountsChecked, gpuCost, completions, money, budgetSpend] = await Promise.all([
    meteredHours(sql, { startMs, endMs, tenant: options.tenant }),
    ledgerQuantities(sql, start, end, options.tenant),
    entryChecks(sql, start, end),
    repriceWindow(sql, start, end, options.books),
    accountChecks(sql, options.everyEntry ?? true),
    gpuCostChecks(sql, start, end),
    options.lifecycle ? completionChecks(sql, options.lifecycle, startMs, endMs, options.tenant) : undefined,
    moneyChecks(sql, start, end, options.nowMs ?? Date.now()),
    budgetSpendChecks(sql, startMs, endMs, options.tenant),
  ]);
  return reconciliationReport({
    startMs,
    endMs,
    meteringAvailable: metered !== undefined,
    metered: metered ?? [],
    ledger,
    unbalanced: entries.unbalanced,
    amountMismatches: entries.amounts,
    repriced,
    accounts: accountsChecked.accounts,
    gpuCost,
    trialBalance: accountsChecked.trial,
    completions,
    overdrawnPrepaid: money.overdrawn,
    reservationFees: money.fees,
    idleAccruals: money.idle,
    budgetSpend,
    money: money.money,
  });
}
