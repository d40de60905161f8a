import { describe, expect, it } from 'vitest';
import { allocateCredit, chargesByTenantMonth } from './credit.js';

const JAN = Date.UTC(2030, 0, 20);
const FEB = Date.UTC(2030, 1, 3);

describe('prepaid credit', () => {
  it('sums charges per tenant and month, skipping nothing-charged ones', () => {
    const charges = chargesByTenantMonth([
      { tenant: 'b', amountMicros: 5, recordedUnixMs: FEB },
      { tenant: 'a', amountMicros: 3, recordedUnixMs: FEB },
      { tenant: 'a', amountMicros: 4, recordedUnixMs: JAN },
      { tenant: 'a', amountMicros: 6, recordedUnixMs: JAN + 10 },
      { tenant: 'a', amountMicros: 0, recordedUnixMs: JAN + 20 },
    ]);
    expect(charges).toEqual([
      { tenant: 'a', period: '2030-01', amountMicros: 10, recordedUnixMs: JAN + 10 },
      { tenant: 'a', period: '2030-02', amountMicros: 3, recordedUnixMs: FEB },
      { tenant: 'b', period: '2030-02', amountMicros: 5, recordedUnixMs: FEB },
    ]);
  });

  it('pays the oldest month first and never more than the credit held', () => {
    const charges = chargesByTenantMonth([
      { tenant: 'a', amountMicros: 10, recordedUnixMs: JAN },
      { tenant: 'a', amountMicros: 10, recordedUnixMs: FEB },
      { tenant: 'b', amountMicros: 7, recordedUnixMs: FEB },
      { tenant: 'c', amountMicros: 7, recordedUnixMs: FEB },
    ]);
    const applied = allocateCredit(
      new Map([
        ['a', 15],
        ['b', 100],
        ['c', -3],
      ]),
      charges,
    );
    expect(applied.map((a) => [a.tenant, a.period, a.amountMicros])).toEqual([
      ['a', '2030-01', 10],
      ['a', '2030-02', 5],
      ['b', '2030-02', 7],
    ]);
  });
});
