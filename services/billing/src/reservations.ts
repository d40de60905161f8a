import { retryConflicts } from '@switchyard/db';
import { DomainError } from '@switchyard/contracts';
import type { Sql, TransactionSql } from 'postgres';
import { chargesByTenantMonth } from './domain/credit.js';
import { accounts } from './domain/posting.js';
import { feeHours, indexReservations, sameTerms, type Reservation, type ReservationIndex } from './domain/reservation.js';
import { drawPrepaid, type EntryRow } from './prepaid.js';

interface ReservationRow {
  id: string;
  tenant: string;
  pools: string[];
  model: string;
  gpus: number;
  starts_at: Date;
  ends_at: Date;
  fee_per_gpu_hour_micros: string;
  price_version: string;
  created_at: Date;
}

export interface StoredReservation extends Reservation {
  readonly createdMs: number;
}

const fromRow = (r: ReservationRow): StoredReservation => ({
  id: r.id,
  tenant: r.tenant,
  pools: r.pools,
  model: r.model,
  gpus: r.gpus,
  startMs: r.starts_at.getTime(),
  endMs: r.ends_at.getTime(),
  feePerGpuHourMicros: Number(r.fee_per_gpu_hour_micros),
  priceVersion: r.price_version,
  createdMs: r.created_at.getTime(),
});

/**
 * Stores a reservation once per id: a retry with the same terms is a duplicate, the same id
 * with other terms is refused and changes nothing.
 */
export async function saveReservation(sql: Sql, r: Reservation): Promise<{ reservation: StoredReservation; duplicate: boolean }> {
  const [row] = await sql<ReservationRow[]>`
    INSERT INTO reservations (id, tenant, pools, model, gpus, starts_at, ends_at, fee_per_gpu_hour_micros, price_version)
    VALUES (${r.id}, ${r.tenant}, ${sql.array([...r.pools])}::text[], ${r.model}, ${r.gpus}, ${new Date(r.startMs)}, ${new Date(r.endMs)},
            ${r.feePerGpuHourMicros}, ${r.priceVersion})
    ON CONFLICT (id) DO NOTHING
    RETURNING *`;
  if (row) return { reservation: fromRow(row), duplicate: false };
  const [prior] = await sql<ReservationRow[]>`SELECT * FROM reservations WHERE id = ${r.id}`;
  const stored = fromRow(prior!);
  if (!sameTerms(stored, r))
    throw new DomainError('FAILED_PRECONDITION', `reservation ${r.id} exists with other terms; reservations are immutable, make a new one`);
  return { reservation: stored, duplicate: true };
}

/** Reservations (of one tenant, or all), oldest start first. */
export async function loadReservations(sql: Sql, tenant?: string): Promise<StoredReservation[]> {
  const rows = await sql<ReservationRow[]>`
    SELECT * FROM reservations ${tenant ? sql`WHERE tenant = ${tenant}` : sql``} ORDER BY starts_at, id`;
  return rows.map(fromRow);
}

/** Reservation fees charged so far, by reservation id. */
export async function feesCharged(sql: Sql, tenant?: string): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; fee: string }[]>`
    SELECT split_part(external_id, ':', 2) AS id, sum(amount_micros) AS fee FROM ledger_transactions
     WHERE kind = 'reservation_fee' ${tenant ? sql`AND tenant = ${tenant}` : sql``}
     GROUP BY 1`;
  return new Map(rows.map((r) => [r.id, Number(r.fee)]));
}

/** The ledger's key of one reservation-hour's fee; a reservation id holds no ':'. */
export const feeExternalId = (reservationId: string, hourMs: number) => `reservation-fee:${reservationId}:${new Date(hourMs).toISOString()}`;

/** Reservation-hours one accrual posts at most; the next takes the rest. */
const MAX_HOURS_PER_RUN = 5_000;

async function ensureAccounts(tx: TransactionSql, ids: { id: string; tenant: string | null; kind: string }[]) {
  await tx`
    INSERT INTO accounts (id, tenant, kind)
    SELECT id, nullif(tenant, ''), kind
      FROM unnest(${tx.array(ids.map((a) => a.id))}::text[], ${tx.array(ids.map((a) => a.tenant ?? ''))}::text[], ${tx.array(ids.map((a) => a.kind))}::text[])
        AS a(id, tenant, kind)
     ORDER BY id
    ON CONFLICT (id) DO NOTHING`;
}

/**
 * Charges reservation fees into the ledger per elapsed hour (pro rata at the period's
 * edges): one `reservation_fee` transaction per reservation and hour, named by both, so
 * any number of replicas running this at once charge each hour once. Debit the tenant's
 * receivable (after its prepaid credit pays what it can), credit reservation revenue.
 * Returns the hours newly charged.
 */
export async function accrueReservationFees(sql: Sql, reservations: readonly Reservation[], nowMs: number): Promise<number> {
  const started = reservations.filter((r) => r.startMs < nowMs);
  if (!started.length) return 0;
  const progress = await sql<{ reservation_id: string; charged_until: Date }[]>`
    SELECT reservation_id, charged_until FROM reservation_fee_progress WHERE reservation_id = ANY(${sql.array(started.map((r) => r.id))}::text[])`;
  const chargedUntil = new Map(progress.map((p) => [p.reservation_id, p.charged_until.getTime()]));
  const due = started.flatMap((r) => feeHours(r, chargedUntil.get(r.id) ?? r.startMs, nowMs).map((h) => ({ r, h }))).slice(0, MAX_HOURS_PER_RUN);
  if (!due.length) return 0;
  const until = new Map<string, number>();
  for (const { r, h } of due) until.set(r.id, Math.max(until.get(r.id) ?? 0, Math.min(h.hourMs + 3_600_000, r.endMs)));
  const advanced = [...until.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return retryConflicts(() =>
    sql
      .begin(async (tx) => {
        const specs = new Map<string, { id: string; tenant: string | null; kind: string }>();
        for (const { r } of due) {
          specs.set(accounts.receivable(r.tenant), { id: accounts.receivable(r.tenant), tenant: r.tenant, kind: 'receivable' });
          specs.set(accounts.reservationRevenue(r.model), { id: accounts.reservationRevenue(r.model), tenant: null, kind: 'revenue' });
        }
        await ensureAccounts(tx, [...specs.values()]);
        const col = <T>(f: (d: (typeof due)[number]) => T) => tx.array(due.map(f) as never[]);
        const inserted = await tx<{ id: string; external_id: string }[]>`
        INSERT INTO ledger_transactions (kind, external_id, tenant, model, pool, amount_micros, recorded_at, price_version, memo)
        SELECT 'reservation_fee', external_id, tenant, model, pool, amount, recorded_at, price_version, memo
          FROM unnest(${col((d) => feeExternalId(d.r.id, d.h.hourMs))}::text[], ${col((d) => d.r.tenant)}::text[], ${col((d) => d.r.model)}::text[],
                      ${col((d) => d.r.pools.join(','))}::text[], ${col((d) => d.h.amountMicros)}::int8[],
                      ${col((d) => new Date(d.h.recordedMs).toISOString())}::timestamptz[], ${col((d) => d.r.priceVersion)}::text[],
                      ${col((d) => `reservation ${d.r.id}: ${d.r.gpus} GPUs at ${d.r.feePerGpuHourMicros} micros per GPU-hour`)}::text[])
            AS f(external_id, tenant, model, pool, amount, recorded_at, price_version, memo)
        ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING
        RETURNING id, external_id`;
        if (!inserted.length) return 0;
        const byExternal = new Map(due.map((d) => [feeExternalId(d.r.id, d.h.hourMs), d]));
        const entries: EntryRow[] = [];
        const charged = inserted.map((row) => ({ row, ...byExternal.get(row.external_id)! }));
        for (const { row, r, h } of charged) {
          entries.push({ transactionId: row.id, account: accounts.receivable(r.tenant), side: 'debit', amountMicros: h.amountMicros });
          entries.push({ transactionId: row.id, account: accounts.reservationRevenue(r.model), side: 'credit', amountMicros: h.amountMicros });
        }
        const first = inserted.reduce((m, r) => (BigInt(r.id) < BigInt(m) ? r.id : m), inserted[0]!.id);
        const charges = chargesByTenantMonth(charged.map(({ r, h }) => ({ tenant: r.tenant, amountMicros: h.amountMicros, recordedUnixMs: h.recordedMs })));
        entries.push(...(await drawPrepaid(tx, charges, `credit-applied:${first}`)));
        await tx`
        INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
        SELECT * FROM unnest(${tx.array(entries.map((e) => e.transactionId))}::int8[], ${tx.array(entries.map((e) => e.account))}::text[],
                             ${tx.array(entries.map((e) => e.side))}::text[], ${tx.array(entries.map((e) => e.amountMicros))}::int8[])`;
        return inserted.length;
      })
      .then(async (n) => {
        // After the fees committed (or were found charged by another replica): the next run starts past them.
        await sql`
        INSERT INTO reservation_fee_progress (reservation_id, charged_until)
        SELECT * FROM unnest(${sql.array(advanced.map(([id]) => id))}::text[], ${sql.array(advanced.map(([, ms]) => new Date(ms).toISOString()))}::timestamptz[])
        ON CONFLICT (reservation_id) DO UPDATE SET charged_until = greatest(reservation_fee_progress.charged_until, excluded.charged_until)`;
        return n;
      }),
  );
}

export interface ReservationCache {
  index(): ReservationIndex;
  all(): readonly StoredReservation[];
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Every reservation in memory, reloaded every `refreshMs` (and at once after a create), so
 * pricing asks "does this tenant hold this pool now?" without I/O. A reservation made on
 * another replica applies here within `refreshMs`.
 */
export async function createReservationCache(sql: Sql, options: { refreshMs?: number; onError?: (e: unknown) => void } = {}): Promise<ReservationCache> {
  let all: StoredReservation[] = [];
  let index: ReservationIndex = new Map();
  const refresh = async () => {
    all = await loadReservations(sql);
    index = indexReservations(all);
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch((e) => options.onError?.(e)), options.refreshMs ?? 2_000);
  timer.unref();
  return { index: () => index, all: () => all, refresh, stop: () => clearInterval(timer) };
}
