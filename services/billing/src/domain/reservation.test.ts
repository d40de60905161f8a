import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import { decideReservation, feeHours, totalFee, type ReservablePool, type ReservationRequest } from './reservation.js';

const H = 3_600_000;
const T = Date.UTC(2030, 0, 15, 10);
const pools = new Map<string, ReservablePool>([
  ['r-8b', { id: 'r-8b', model: 'llama-3.1-8b', capacityClass: 'reserved' }],
  ['r-8b-2', { id: 'r-8b-2', model: 'llama-3.1-8b', capacityClass: 'reserved' }],
  ['r-70b', { id: 'r-70b', model: 'llama-3.1-70b-tp4', capacityClass: 'reserved' }],
  ['od-8b', { id: 'od-8b', model: 'llama-3.1-8b', capacityClass: 'on-demand' }],
]);
const request = (over: Partial<ReservationRequest> = {}): ReservationRequest => ({
  id: 'res-1',
  tenant: 'acme',
  pools: ['r-8b'],
  gpus: 2,
  startMs: T + H / 2,
  endMs: T + 4 * H,
  ...over,
});

describe('decideReservation', () => {
  it('pins the fee per GPU-hour of the version in force', () => {
    expect(decideReservation(request({ pools: ['r-8b-2', 'r-8b', 'r-8b'] }), pools, DEFAULT_PRICE_BOOK).reservation).toMatchObject({
      pools: ['r-8b', 'r-8b-2'],
      model: 'llama-3.1-8b',
      feePerGpuHourMicros: 4_500_000,
      priceVersion: 'v1',
    });
  });

  it('refuses pools that do not exist (naming them), other bad input, and says why', () => {
    const cases: [Partial<ReservationRequest>, RegExp][] = [
      [{ pools: ['r-8b', 'nope', 'gone'] }, /pools that do not exist: "nope", "gone"/],
      [{ pools: [] }, /at least one pool/],
      [{ pools: ['od-8b'] }, /not reserved capacity: "od-8b"/],
      [{ pools: ['r-8b', 'r-70b'] }, /must serve one model/],
      [{ tenant: 'acme corp!' }, /tenant must be/],
      [{ id: 'a b' }, /reservation_id/],
      [{ gpus: -1 }, /gpus must be a positive whole number/],
      [{ gpus: 0 }, /gpus must be a positive whole number/],
      [{ gpus: 1.5 }, /gpus must be a positive whole number/],
      [{ startMs: -5 }, /start must be a time/],
      [{ endMs: T }, /end must be after start/],
      [{ endMs: T + 4 * 366 * 24 * H }, /at most 3 years/],
    ];
    for (const [over, why] of cases) expect(decideReservation(request(over), pools, DEFAULT_PRICE_BOOK).problem, JSON.stringify(over)).toMatch(why);
    const noTerms = { ...DEFAULT_PRICE_BOOK, reservedCapacity: {} };
    expect(decideReservation(request(), pools, noTerms).problem).toMatch(/no reserved-capacity terms/);
  });
});

describe('fee', () => {
  const r = decideReservation(request(), pools, DEFAULT_PRICE_BOOK).reservation!;

  it('charges each elapsed clock hour pro rata to its overlap with the period', () => {
    expect(feeHours(r, 0, T + 2 * H + 59_999)).toEqual([
      { hourMs: T, recordedMs: T + H / 2, amountMicros: 4_500_000 },
      { hourMs: T + H, recordedMs: T + H, amountMicros: 9_000_000 },
    ]);
    expect(feeHours(r, T + H, T + 3 * H).map((h) => h.hourMs)).toEqual([T + H, T + 2 * H]);
    expect(feeHours(r, 0, T + 100 * H)).toHaveLength(4);
    expect(totalFee(r)).toBe(3.5 * 2 * 4_500_000);
  });
});
