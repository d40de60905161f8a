import { table } from './table.js';

/** A JSON value as Postgres hands back a transaction's columns. */
type Field = string | number | boolean | null;

/**
 * One ledger transaction as the rebuild compares it, under its natural key: `usage:<usage id>`,
 * `reversal:<reversed usage id>`, `credit_purchase:<external id>`; or, for the kinds whose ids
 * name the posting batch that wrote them (and so differ between any two runs), one aggregate
 * per `gpu_cost:<pool>` and `credit_applied:<tenant>:<YYYY-MM>`.
 */
export interface LedgerRow {
  readonly key: string;
  readonly kind: string;
  readonly tenant: string | null;
  /** Columns compared, by name (tokens, amounts, price version, times, memo...). */
  readonly fields: Readonly<Record<string, Field>>;
  /** Micros per `<account> <side>`. */
  readonly entries: Readonly<Record<string, number>>;
}

/** A transaction one ledger has and the other lacks, or has otherwise. */
export type LedgerDifference =
  | { readonly type: 'missing_in_live'; readonly key: string; readonly kind: string; readonly tenant: string | null }
  | { readonly type: 'missing_in_rebuild'; readonly key: string; readonly kind: string; readonly tenant: string | null }
  | { readonly type: 'different'; readonly key: string; readonly kind: string; readonly tenant: string | null; readonly changes: readonly FieldChange[] };

/** One column or entry leg that differs: `entry <account> <side>` for legs. */
export interface FieldChange {
  readonly field: string;
  readonly live: Field;
  readonly rebuilt: Field;
}

/** Columns and legs of one transaction that differ, in name order; empty when they agree. */
export function compareRows(live: LedgerRow, rebuilt: LedgerRow): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const [name, a, b] of [
    ['kind', live.kind, rebuilt.kind],
    ['tenant', live.tenant, rebuilt.tenant],
  ] as const) {
    if (a !== b) changes.push({ field: name, live: a, rebuilt: b });
  }
  const names = (x: object, y: object) => [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  for (const name of names(live.fields, rebuilt.fields)) {
    const a = live.fields[name] ?? null;
    const b = rebuilt.fields[name] ?? null;
    if (a !== b) changes.push({ field: name, live: a, rebuilt: b });
  }
  for (const leg of names(live.entries, rebuilt.entries)) {
    const a = live.entries[leg] ?? 0;
    const b = rebuilt.entries[leg] ?? 0;
    if (a !== b) changes.push({ field: `entry ${leg}`, live: a, rebuilt: b });
  }
  return changes;
}

/** What a diff found, per kind, and every difference. */
export interface LedgerDiff {
  /** Transactions (or aggregates) per kind: how many each side has, how many agree. */
  readonly kinds: Record<string, { live: number; rebuilt: number; same: number }>;
  readonly differences: LedgerDifference[];
}

/**
 * Merges two streams of rows sorted by key (byte order, as `ORDER BY key COLLATE "C"` sorts
 * ASCII keys) and compares each key once, so neither ledger is ever held in memory.
 */
export async function diffLedgers(live: AsyncIterable<LedgerRow>, rebuilt: AsyncIterable<LedgerRow>): Promise<LedgerDiff> {
  const kinds: LedgerDiff['kinds'] = {};
  const differences: LedgerDifference[] = [];
  const count = (kind: string, side: 'live' | 'rebuilt' | 'same') => {
    const k = (kinds[kind] ??= { live: 0, rebuilt: 0, same: 0 });
    k[side]++;
  };
  const a = live[Symbol.asyncIterator]();
  const b = rebuilt[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  let lastKey: string | undefined;
  const ordered = (key: string) => {
    // A merge over unsorted input would report phantom differences: refuse it loudly.
    if (lastKey !== undefined && key < lastKey) throw new Error(`ledger rows out of key order: ${key} after ${lastKey}`);
    lastKey = key;
  };
  while (!x.done || !y.done) {
    if (!x.done && (y.done || x.value.key < y.value.key)) {
      ordered(x.value.key);
      count(x.value.kind, 'live');
      differences.push({ type: 'missing_in_rebuild', key: x.value.key, kind: x.value.kind, tenant: x.value.tenant });
      x = await a.next();
    } else if (!y.done && (x.done || y.value.key < x.value.key)) {
      ordered(y.value.key);
      count(y.value.kind, 'rebuilt');
      differences.push({ type: 'missing_in_live', key: y.value.key, kind: y.value.kind, tenant: y.value.tenant });
      y = await b.next();
    } else if (!x.done && !y.done) {
      ordered(x.value.key);
      count(x.value.kind, 'live');
      count(y.value.kind, 'rebuilt');
      const changes = compareRows(x.value, y.value);
      if (changes.length) differences.push({ type: 'different', key: x.value.key, kind: x.value.kind, tenant: x.value.tenant, changes });
      else count(x.value.kind, 'same');
      [x, y] = await Promise.all([a.next(), b.next()]);
    }
  }
  return { kinds, differences };
}

const show = (v: Field) => (v === null ? '∅' : String(v));

/** The summary table per kind, then one line per difference (`missing in live`, ...). */
export function formatDiff(diff: LedgerDiff, notes: readonly string[]): string {
  const rows = Object.entries(diff.kinds)
    .sort(([p], [q]) => (p < q ? -1 : 1))
    .map(([kind, k]) => [kind, String(k.live), String(k.rebuilt), String(k.same), String(Math.max(k.live, k.rebuilt) - k.same)]);
  const out = [table([['kind', 'live', 'rebuilt', 'same', 'differ'], ...rows])];
  if (diff.differences.length) out.push('');
  for (const d of diff.differences) {
    const who = d.tenant ? ` (${d.tenant})` : '';
    if (d.type === 'missing_in_live') out.push(`missing in live     ${d.key}${who}`);
    else if (d.type === 'missing_in_rebuild') out.push(`missing in rebuild  ${d.key}${who}`);
    else out.push(`different           ${d.key}${who}: ${d.changes.map((c) => `${c.field} live ${show(c.live)} rebuilt ${show(c.rebuilt)}`).join('; ')}`);
  }
  for (const n of notes) out.push(`note: ${n}`);
  out.push('', diff.differences.length ? `${diff.differences.length} difference(s)` : '0 differences');
  return out.join('\n');
}
