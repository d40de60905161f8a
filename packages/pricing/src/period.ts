/** A calendar month in UTC: the period of budgets and invoices. */
export interface Period {
  /** `YYYY-MM`. */
  readonly period: string;
  readonly startMs: number;
  /** Exclusive. */
  readonly endMs: number;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

const monthOf = (year: number, month0: number): Period => ({
  period: `${String(year).padStart(4, '0')}-${String(month0 + 1).padStart(2, '0')}`,
  startMs: Date.UTC(year, month0, 1),
  endMs: Date.UTC(year, month0 + 1, 1),
});

/** The month (UTC) that holds `unixMs`. */
export function periodOf(unixMs: number): Period {
  const d = new Date(unixMs);
  return monthOf(d.getUTCFullYear(), d.getUTCMonth());
}

/** Parses `YYYY-MM`; undefined when it is not one. */
export function parsePeriod(text: string): Period | undefined {
  const m = PERIOD.exec(text);
  return m ? monthOf(Number(m[1]), Number(m[2]) - 1) : undefined;
}
