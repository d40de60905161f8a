const NUMERIC = /^(-?\d[\d.]*%?|-)$/;

/** Columns padded to their widest cell, two spaces apart; a column of numbers is right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const right = rows[0]!.map((_, i) => rows.length > 1 && rows.slice(1).every((r) => NUMERIC.test(r[i]!)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
