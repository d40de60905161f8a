import fc from 'fast-check';
import phoneExamples from 'libphonenumber-js/examples.mobile.json';
import { getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { countries as ibanRegistryExamples } from 'iban';
import { countrySpecs, friendlyFormatIBAN } from 'ibantools';
import { describe, expect, it } from 'vitest';
import { builtinDetectors, categorizedMatches, redact, scan } from './index.js';
import { publishedTestCards } from './public-test-cards.fixture.js';
import type { Category, Match } from './types.js';

/**
 * Texts with N planted entities of one category, in any order, repeated or not, joined by
 * any of the separators people use between them, must yield exactly those N spans and
 * N redactions: one match may never hide, swallow or split the next.
 */

const LISTS = [', ', '; ', '\n', ' and ', ' or ', ' | ', '\t'];

const phones = (): string[] => {
  const examples = phoneExamples as Readonly<Record<string, string>>;
  return getCountries().flatMap((region) => {
    const n = examples[region] === undefined ? undefined : parsePhoneNumberFromString(examples[region], region);
    return n === undefined ? [] : [n.formatInternational(), n.number, `+${n.countryCallingCode} ${n.nationalNumber}`];
  });
};

const cards = (): string[] =>
  [...new Set(publishedTestCards.map((c) => c.number))].flatMap((n) => [n, n.replace(/(\d{4})(?=\d)/g, '$1 '), n.replace(/(\d{4})(?=\d)/g, '$1-')]);

const ibans = (): string[] =>
  Object.values(ibanRegistryExamples)
    .filter((s) => countrySpecs[s.countryCode]?.IBANRegistry === true)
    .flatMap((s) => [s.example, friendlyFormatIBAN(s.example) ?? s.example, friendlyFormatIBAN(s.example, '-') ?? s.example]);

interface Case {
  readonly category: Category;
  readonly pool: readonly string[];
  readonly separators: readonly string[];
  /** What may follow the last entity; `TRAILS` unless said. */
  readonly trails?: readonly string[];
}

const CASES: readonly Case[] = [
  {
    category: 'email',
    pool: ['jane.doe@example.com', 'a.b+tag@mail.example.co.uk', 'ivan@example.xn--p1ai', 'x_y@sub.domain.org', 'support@switchyard.io'],
    separators: [' ', ...LISTS, ' / '],
  },
  // A bare space between two phone numbers, or a bare number after one, is left out: in
  // regions whose numbers vary in length the digits read either way ("+49 1512 3456789 1"
  // and "+62 812 345 678 12" are valid numbers as they stand). The focused cases cover a
  // space where the split is certain. National forms with a trunk 0 ("020 7946 0958") are
  // left out: after another number and a space they are one run of digit groups with it.
  {
    category: 'phone',
    pool: [...phones(), '415-555-0132', '(415) 555-2671', '1-800-555-0199'],
    separators: [...LISTS, ' / '],
    trails: ['', '.', ' thanks', ')'],
  },
  { category: 'card', pool: cards(), separators: [' ', '-', ...LISTS, ' - '] },
  { category: 'ssn', pool: ['078-05-1120', '078 05 1123', '078.05.1123', '123-45-6789', '219-09-9999'], separators: [' ', ...LISTS] },
  { category: 'iban', pool: ibans(), separators: [' ', '-', ...LISTS] },
  {
    category: 'ip',
    pool: [
      '192.0.2.1',
      '198.51.100.23',
      '203.0.113.254',
      '10.0.0.1',
      '2001:db8::1',
      '2001:db8:85a3::8a2e:370:7334',
      '2001:0db8:0000:0000:0000:ff00:0042:8329',
      '::1',
    ],
    separators: [' ', ...LISTS, ' / '],
  },
  {
    category: 'secret',
    pool: [
      'AKIAIOSFODNN7EXAMPLE',
      'ghp_0123456789abcdefghijABCDEFGHIJ012345',
      'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      'Zq8vN2pL7xRt4sK9wB3mY6cD1fG5hJ0aE',
    ],
    separators: [' ', ...LISTS],
  },
];

// What may stand before the first and after the last entity, numbers included.
const LEADS = ['', 'Note: ', 'Room 12 ', 'see ', '('];
const TRAILS = ['', '.', ' thanks', ' 12', ')'];

/** Spans of one category, with overlapping ones merged as `redact` merges them. */
function spansOf(text: string, category: Category): Match[] {
  const sorted = categorizedMatches(scan(text, builtinDetectors))
    .filter((m) => m.category === category)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Match[] = [];
  for (const m of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && m.start < last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, m.end) };
    else merged.push({ start: m.start, end: m.end });
  }
  return merged;
}

describe('adjacent, overlapping and repeated entities', () => {
  it.each(CASES)('$category: every planted entity is found and redacted', ({ category, pool, separators, trails = TRAILS }) => {
    const planted = fc.record({
      lead: fc.constantFrom(...LEADS),
      items: fc.array(fc.tuple(fc.constantFrom(...pool), fc.constantFrom(...separators)), { minLength: 1, maxLength: 8 }),
      trail: fc.constantFrom(...trails),
    });
    fc.assert(
      fc.property(planted, ({ lead, items, trail }) => {
        let text = lead;
        const expected: Match[] = [];
        items.forEach(([value, separator], i) => {
          if (i > 0) text += separator;
          expected.push({ start: text.length, end: text.length + value.length });
          text += value;
        });
        text += trail;
        expect(spansOf(text, category).map((m) => text.slice(m.start, m.end))).toEqual(expected.map((m) => text.slice(m.start, m.end)));
        const redacted = redact(text, categorizedMatches(scan(text, builtinDetectors)));
        expect(redacted.split(`[REDACTED:${category}]`).length - 1).toBe(items.length);
      }),
      { numRuns: 500 },
    );
  });
});
