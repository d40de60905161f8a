import { describe, expect, it } from 'vitest';
import { diffLedgers, formatDiff, type LedgerRow } from './ledger-diff.js';

const row = (key: string, amount = 100, tokens = 10): LedgerRow => ({
  key,
  kind: key.split(':')[0]!,
  tenant: 'acme',
  fields: { amount_micros: amount, output_tokens: tokens },
  entries: { 'tenant:acme:receivable debit': amount, 'platform:revenue:m credit': amount },
});

async function* rows(...r: LedgerRow[]) {
  yield* r;
}

describe('diffLedgers', () => {
  it('finds nothing between equal ledgers', async () => {
    const diff = await diffLedgers(rows(row('usage:a'), row('usage:b')), rows(row('usage:a'), row('usage:b')));
    expect(diff.differences).toEqual([]);
    expect(diff.kinds).toEqual({ usage: { live: 2, rebuilt: 2, same: 2 } });
    expect(formatDiff(diff, [])).toMatch(/0 differences$/);
  });

  it('names each key missing on one side, and what differs on both', async () => {
    const diff = await diffLedgers(rows(row('usage:a'), row('usage:c', 100, 10)), rows(row('usage:b'), row('usage:c', 120, 10)));
    expect(diff.differences).toEqual([
      { type: 'missing_in_rebuild', key: 'usage:a', kind: 'usage', tenant: 'acme' },
      { type: 'missing_in_live', key: 'usage:b', kind: 'usage', tenant: 'acme' },
      {
        type: 'different',
        key: 'usage:c',
        kind: 'usage',
        tenant: 'acme',
        changes: [
          { field: 'amount_micros', live: 100, rebuilt: 120 },
          { field: 'entry platform:revenue:m credit', live: 100, rebuilt: 120 },
          { field: 'entry tenant:acme:receivable debit', live: 100, rebuilt: 120 },
        ],
      },
    ]);
    const text = formatDiff(diff, ['gpu_idle not compared']);
    expect(text).toContain('missing in live     usage:b (acme)');
    expect(text).toContain('missing in rebuild  usage:a (acme)');
    expect(text).toContain('different           usage:c (acme): amount_micros live 100 rebuilt 120');
    expect(text).toContain('note: gpu_idle not compared');
    expect(text).toMatch(/3 difference\(s\)$/);
  });

  it('refuses rows out of key order rather than report phantom differences', async () => {
    await expect(diffLedgers(rows(row('usage:b'), row('usage:a')), rows())).rejects.toThrow(/out of key order/);
  });
});
