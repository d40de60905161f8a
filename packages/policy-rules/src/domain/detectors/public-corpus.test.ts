import { describe, expect, it } from 'vitest';
import { scoreCorpus, scoreTable } from './corpus-score.fixture.js';
import { luhnValid } from './luhn.js';
import { publicCorpus } from './public-corpus.fixture.js';
import { publishedTestCards } from './public-test-cards.fixture.js';
import type { Category } from './types.js';

describe('labelled corpus built from public test vectors', () => {
  const rows = publicCorpus();
  // Every PII and secret category is scored, so a near miss that trips another detector
  // (an IBAN's digits read as a phone number) counts against it.
  const scores = scoreCorpus(rows, ['email', 'phone', 'card', 'ssn', 'iban', 'ip', 'secret']);
  console.log(scoreTable(`public test vectors: ${rows.length} rows`, scores));

  it('was copied correctly: every published test card passes Luhn', () => {
    for (const c of publishedTestCards) expect(luhnValid(c.number), `${c.source} ${c.network}`).toBe(true);
  });

  it.each<[Category, number]>([
    ['card', 150],
    ['phone', 600],
    ['iban', 250],
    ['ip', 900],
  ])('has at least as many %s positives as the sources give (%i)', (category, least) => {
    expect(rows.filter((r) => r.labels.includes(category)).length).toBeGreaterThanOrEqual(least);
    expect(rows.filter((r) => r.labels.length === 0).length).toBeGreaterThanOrEqual(least / 2);
  });

  it.each(scores)('$category: precision >= 0.99 and recall >= 0.98', (s) => {
    if (s.precision !== undefined) expect(s.precision).toBeGreaterThanOrEqual(0.99);
    if (s.recall !== undefined) expect(s.recall).toBeGreaterThanOrEqual(0.98);
  });
});
