import { isTenantId } from '@switchyard/contracts';
import type { PriceBook } from '@switchyard/pricing';

const HOUR = 3_600_000;

/** A tenant's reservation: GPUs of reserved pools for a period, at pinned reserved-capacity terms. */
export interface Reservation {
  readonly id: string;
  readonly tenant: string;
  readonly pools: readonly string[];
  readonly model: string;
  readonly gpus: number;
  readonly startMs: number;
  /** Exclusive. */
  readonly endMs: number;
  readonly feePerGpuHourMicros: number;
  readonly priceVersion: string;
}

/** What an operator asks for. */
export interface ReservationRequest {
  readonly id: string;
  readonly tenant: string;
  readonly pools: readonly string[];
  readonly gpus: number;
  readonly startMs: number;
  readonly endMs: number;
}

/** What billing knows of a pool, for a reservation. */
export interface ReservablePool {
  readonly id: string;
  readonly model: string;
  readonly capacityClass: string;
}

const MAX_PERIOD_MS = 3 * 366 * 24 * HOUR;
const RESERVATION_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** Names in a message are bounded: never echo unbounded input. */
const names = (xs: readonly string[]) =>
  xs
    .slice(0, 5)
    .map((x) => JSON.stringify(x.slice(0, 64)))
    .join(', ') + (xs.length > 5 ? ` and ${xs.length - 5} more` : '');

/**
 * The reservation a request makes, or why it cannot be made: the tenant id is well formed,
 * the pools exist, are reserved capacity and serve one model the price book has
 * reserved-capacity terms for, the GPU count is a positive whole number, and the period
 * ends after it starts. The fee per GPU-hour is pinned from `book` (the version in force).
 */
export function decideReservation(
  request: ReservationRequest,
  pools: ReadonlyMap<string, ReservablePool>,
  book: PriceBook,
): { reservation: Reservation; problem?: undefined } | { reservation?: undefined; problem: string } {
  const fail = (problem: string) => ({ problem });
  if (!RESERVATION_ID.test(request.id)) return fail('reservation_id must be 1-64 letters, digits, ".", "_" or "-"');
  if (!isTenantId(request.tenant)) return fail('tenant must be 1-64 letters, digits, "-" or "_"');
  if (!request.pools.length) return fail('name at least one pool');
  const wanted = [...new Set(request.pools)];
  const unknown = wanted.filter((p) => !pools.has(p));
  if (unknown.length) return fail(`pools that do not exist: ${names(unknown)}`);
  const onDemand = wanted.filter((p) => pools.get(p)!.capacityClass !== 'reserved');
  if (onDemand.length) return fail(`pools that are not reserved capacity: ${names(onDemand)}`);
  const models = [...new Set(wanted.map((p) => pools.get(p)!.model))];
  if (models.length > 1) return fail(`a reservation's pools must serve one model; these serve ${names(models)}`);
  if (!Number.isSafeInteger(request.gpus) || request.gpus <= 0) return fail('gpus must be a positive whole number');
  if (!Number.isSafeInteger(request.startMs) || request.startMs <= 0) return fail('start must be a time (Unix ms > 0)');
  if (!Number.isSafeInteger(request.endMs) || request.endMs <= request.startMs) return fail('end must be after start');
  if (request.endMs - request.startMs > MAX_PERIOD_MS) return fail('a reservation lasts at most 3 years');
  const model = models[0]!;
  const terms = book.reservedCapacity?.[model];
  if (!terms) return fail(`price book ${book.version} has no reserved-capacity terms for model ${JSON.stringify(model)}`);
  return {
    reservation: {
      id: request.id,
      tenant: request.tenant,
      pools: wanted.sort(),
      model,
      gpus: request.gpus,
      startMs: request.startMs,
      endMs: request.endMs,
      feePerGpuHourMicros: terms.perGpuHourMicros,
      priceVersion: book.version,
    },
  };
}

/** Whether two reservations are the same contract (a retried create). */
export const sameTerms = (a: Reservation, b: Reservation): boolean =>
  a.tenant === b.tenant &&
  a.pools.join(',') === b.pools.join(',') &&
  a.gpus === b.gpus &&
  a.startMs === b.startMs &&
  a.endMs === b.endMs &&
  a.feePerGpuHourMicros === b.feePerGpuHourMicros;

/** The fee of a stretch of the period, pro rata to the millisecond, rounded once. */
const feeOf = (r: Reservation, ms: number) => Math.round((r.gpus * r.feePerGpuHourMicros * ms) / HOUR);

/** The whole period's fee: the sum of its hourly charges. */
export const totalFee = (r: Reservation): number => feeHours(r, r.startMs, Number.MAX_SAFE_INTEGER).reduce((s, h) => s + h.amountMicros, 0);

/** One hour's fee charge: the hour [hourMs, hourMs + 1 h) cut to the period. */
export interface FeeHour {
  readonly hourMs: number;
  /** The charge's time: the later of the hour and the period's start. */
  readonly recordedMs: number;
  readonly amountMicros: number;
}

/**
 * Charges of the hours from `fromMs` (whole hours) that have elapsed by `nowMs`: every clock
 * hour the period overlaps and whose overlap has ended, charged pro rata to the overlap (a
 * period starting at 10:30 pays half an hour for 10:00-11:00).
 */
export function feeHours(r: Reservation, fromMs: number, nowMs: number): FeeHour[] {
  const out: FeeHour[] = [];
  for (let h = Math.floor(Math.max(fromMs, r.startMs) / HOUR) * HOUR; h < r.endMs; h += HOUR) {
    const start = Math.max(h, r.startMs);
    const end = Math.min(h + HOUR, r.endMs);
    if (end > nowMs) break;
    out.push({ hourMs: h, recordedMs: start, amountMicros: feeOf(r, end - start) });
  }
  return out;
}

/** Reservations by tenant, to ask quickly whether usage ran on the tenant's own reservation. */
export type ReservationIndex = ReadonlyMap<string, readonly Reservation[]>;

export function indexReservations(reservations: readonly Reservation[]): ReservationIndex {
  const byTenant = new Map<string, Reservation[]>();
  for (const r of reservations) byTenant.set(r.tenant, [...(byTenant.get(r.tenant) ?? []), r]);
  return byTenant;
}

/** Whether `tenant` holds a reservation of `pool` in force at `atMs`. */
export function holdsReservation(index: ReservationIndex, tenant: string, pool: string, atMs: number): boolean {
  return (index.get(tenant) ?? []).some((r) => r.startMs <= atMs && atMs < r.endMs && r.pools.includes(pool));
}
