import ipaddr from 'ipaddr.js';
import { countries as ibanRegistryExamples } from 'iban';
import { countrySpecs, friendlyFormatIBAN } from 'ibantools';
import phoneExamples from 'libphonenumber-js/examples.mobile.json';
import { getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import type { LabelledRow } from './corpus-score.fixture.js';
import { publishedTestCards } from './public-test-cards.fixture.js';
import type { Category } from './types.js';

/**
 * A labelled corpus built from public test vectors rather than written by hand, so that
 * it measures the detectors against data their authors did not choose:
 * - cards: the test numbers payment processors publish (`public-test-cards.fixture.ts`);
 * - phones: the example mobile number libphonenumber ships for every region, written in
 *   international form, as E.164, and as "+CC" and the national number unseparated;
 * - IBANs: the example IBAN of each IBAN-registry country as the `iban` package ships it
 *   (the registry's own examples), compact, in groups of four and with dashes;
 * - IPs: every address of the RFC 5737 documentation ranges and addresses of the RFC 3849
 *   range 2001:db8::/32, compressed and in full.
 * Each positive has near misses beside it: a changed check digit, a wrong length, a date,
 * an order number. Everything is derived deterministically, so the figures are stable.
 */
export function publicCorpus(): LabelledRow[] {
  return [...cardRows(), ...phoneRows(), ...ibanRows(), ...ipRows()];
}

// Sentences around each value, taken in turn, so values are seen at the start, the middle
// and the end of a text and next to punctuation.
const POSITIVE_TEMPLATES = [
  (v: string) => `Please use ${v} for the payment.`,
  (v: string) => `${v} is the one on file.`,
  (v: string) => `My details: ${v}`,
  (v: string) => `Can you update it to (${v}) before Friday?`,
  (v: string) => `"value": "${v}", "verified": true`,
];
const NEGATIVE_TEMPLATES = [
  (v: string) => `Reference ${v} is attached to the ticket.`,
  (v: string) => `The form rejected ${v} as invalid.`,
  (v: string) => `Logged: ${v}`,
];

function rows(category: Category, positives: readonly string[], negatives: readonly string[]): LabelledRow[] {
  return [
    ...positives.map((v, i) => ({ text: POSITIVE_TEMPLATES[i % POSITIVE_TEMPLATES.length]!(v), labels: [category] })),
    ...negatives.map((v, i) => ({ text: NEGATIVE_TEMPLATES[i % NEGATIVE_TEMPLATES.length]!(v), labels: [] })),
  ];
}

const DATES = ['2024-05-17', '17.05.2024', '05/17/2024', '2023-11-04T10:42:01Z'];

function luhnCheckDigit(payload: string): string {
  for (let d = 0; d <= 9; d++) {
    let sum = 0;
    const digits = payload + d;
    for (let i = 0; i < digits.length; i++) {
      let n = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return String(d);
  }
  throw new Error('unreachable: one of ten check digits always fits');
}

function grouped(digits: string, sizes: readonly number[], separator: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  if (at < digits.length) parts.push(digits.slice(at));
  return parts.join(separator);
}

// How card networks print their numbers: Amex 4-6-5, 14-digit Diners 4-6-4, others in fours.
const cardGroups = (digits: string): readonly number[] => (digits.length === 15 || digits.length === 14 ? [4, 6, 5] : [4, 4, 4, 4, 3]);

function cardRows(): LabelledRow[] {
  const numbers = [...new Set(publishedTestCards.map((c) => c.number))];
  const positives = numbers.flatMap((n) => [n, grouped(n, cardGroups(n), ' '), grouped(n, cardGroups(n), '-')]);
  const negatives = numbers.flatMap((n, i) => [
    // The check digit changed: fails Luhn.
    n.slice(0, -1) + ((Number(n.at(-1)) + 1) % 10),
    // Too short for any card (PANs have 13-19 digits).
    n.slice(0, 12),
    // An order number that passes Luhn but starts with 0, which ISO/IEC 7812 gives to no
    // card issuer.
    `ORDER ${'0' + n.slice(1, -1) + luhnCheckDigit('0' + n.slice(1, -1))}`,
    DATES[i % DATES.length]!,
  ]);
  return rows('card', positives, negatives);
}

function phoneRows(): LabelledRow[] {
  const positives: string[] = [];
  const negatives: string[] = [];
  const examples = phoneExamples as Readonly<Record<string, string>>;
  for (const [i, region] of getCountries().entries()) {
    const national = examples[region];
    if (national === undefined) continue;
    const number = parsePhoneNumberFromString(national, region);
    if (number === undefined) continue;
    const e164 = number.number;
    positives.push(number.formatInternational(), e164, `+${number.countryCallingCode} ${number.nationalNumber}`);
    // E.164 allows at most 15 digits: the example with digits appended is no number.
    negatives.push(`${e164}${'0123456789'.slice(0, 16 - (e164.length - 1))}`);
    // The national number as an order number, without the country code or any phone
    // grouping: a bare digit run.
    negatives.push(`ORD-${number.nationalNumber}`);
    if (i % 4 === 0) negatives.push(DATES[(i / 4) % DATES.length]!);
  }
  return rows('phone', positives, negatives);
}

function ibanRows(): LabelledRow[] {
  const positives: string[] = [];
  const negatives: string[] = [];
  const registry = Object.values(ibanRegistryExamples)
    .filter((spec) => countrySpecs[spec.countryCode]?.IBANRegistry === true)
    .sort((a, b) => a.countryCode.localeCompare(b.countryCode));
  for (const [i, spec] of registry.entries()) {
    const iban = spec.example;
    positives.push(iban, friendlyFormatIBAN(iban) ?? iban, friendlyFormatIBAN(iban, '-') ?? iban);
    // Other check digits: fails mod-97 (only one pair of check digits fits).
    const checkDigits = iban.slice(2, 4) === '50' ? '51' : '50';
    negatives.push(iban.slice(0, 2) + checkDigits + iban.slice(4));
    // One character short of the country's registered length.
    negatives.push(iban.slice(0, -1));
    // An order number made of the account part.
    negatives.push(`ORD-${iban.slice(4)}`);
    if (i % 4 === 0) negatives.push(DATES[(i / 4) % DATES.length]!);
  }
  return rows('iban', positives, negatives);
}

// A small deterministic generator (mulberry32), so the IPv6 sample is the same every run.
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ipRows(): LabelledRow[] {
  const positives: string[] = [];
  const negatives: string[] = [];
  // RFC 5737: TEST-NET-1, -2 and -3.
  for (const net of ['192.0.2', '198.51.100', '203.0.113']) {
    for (let host = 0; host <= 255; host++) positives.push(`${net}.${host}`);
    negatives.push(`${net}.${256 + (net.length % 40)}`, `${net}`, `${net}.1.5`);
  }
  // RFC 3849: 2001:db8::/32. Each address keeps some zero groups, so the compressed form
  // ("::") is exercised as well as the full one.
  const random = seeded(3849);
  for (let i = 0; i < 120; i++) {
    const groups = [0x2001, 0xdb8, ...Array.from({ length: 6 }, (_, g) => (g < 2 || random() < 0.5 ? Math.floor(random() * 0x10000) : 0))];
    const address = ipaddr.IPv6.parse(groups.map((g) => g.toString(16)).join(':'));
    positives.push(address.toString(), address.toNormalizedString());
    if (i % 4 === 0) {
      // Nine groups, or a group of five hex digits: neither is an address.
      negatives.push(`${address.toNormalizedString()}:1`, `${address.toNormalizedString().slice(0, -1)}12345`);
    }
  }
  negatives.push('00:1A:2B:3C:4D:5E', '12:30:45', ...DATES, 'v1.2.3.4', '1.2.3.4.5');
  return rows('ip', positives, negatives);
}
