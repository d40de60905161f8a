import { builtinDetectors } from './index.js';
import { scan } from './scan.js';
import type { Category } from './types.js';

/** One text and the categories a reader would say it contains. */
export interface LabelledRow {
  readonly text: string;
  readonly labels: readonly Category[];
}

export interface CategoryScore {
  readonly category: Category;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  /** `undefined` when nothing was found, so there is nothing to be precise about. */
  readonly precision: number | undefined;
  /** `undefined` when the corpus has no positives of the category. */
  readonly recall: number | undefined;
}

/**
 * Scores the built-in detectors per category, per row: a row counts as found for a
 * category when any detector of that category matched anywhere in it.
 */
export function scoreCorpus(rows: readonly LabelledRow[], evaluated: readonly Category[]): CategoryScore[] {
  const counts = new Map(evaluated.map((c) => [c, { tp: 0, fp: 0, fn: 0 }]));
  for (const row of rows) {
    const found = new Set(scan(row.text, builtinDetectors).map((f) => f.category));
    for (const [c, s] of counts) {
      if (row.labels.includes(c)) found.has(c) ? s.tp++ : s.fn++;
      else if (found.has(c)) s.fp++;
    }
  }
  return [...counts].map(([category, s]) => ({
    category,
    ...s,
    precision: s.tp + s.fp === 0 ? undefined : s.tp / (s.tp + s.fp),
    recall: s.tp + s.fn === 0 ? undefined : s.tp / (s.tp + s.fn),
  }));
}

/** The table the corpus tests print, so a run shows the figures and not only a pass. */
export function scoreTable(title: string, scores: readonly CategoryScore[]): string {
  const ratio = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(3)).padStart(9);
  const n = (x: number) => String(x).padStart(4);
  return [
    title,
    'category     TP   FP   FN  precision     recall',
    ...scores.map((s) => `${s.category.padEnd(10)} ${n(s.tp)} ${n(s.fp)} ${n(s.fn)}  ${ratio(s.precision)}  ${ratio(s.recall)}`),
  ].join('\n');
}
