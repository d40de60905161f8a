import { findAll } from './find-all.js';
import { possibleInternationalNumber, validInternationalNumber } from './phone-regions.js';
import type { Detector, Match } from './types.js';

// A phone number must not start inside another token, nor right after a digit group
// joined by a dot, dash or slash ("DE89-3704-0044-0532" must not yield "0044-0532 ...").
// Numbers with a country code or in North American form may follow another number and a
// space ("Room 12 415-555-0132") and be followed by one; the other national forms may not,
// since their groups also occur inside IBANs, card numbers and lottery draws. No form
// starts within the groups of an IBAN ("MT84 MALT 0110 0001 2345 ...").
// Bounded (an IBAN has at most 34 characters), or the lookbehind would walk back over a
// whole run of digit groups at every position.
const IBAN_GROUPS = String.raw`[A-Z]{2}\d{2}[ \-](?:[A-Z0-9]{4}[ \-]){0,7}`;
const START = String.raw`(?<![\w+.\-/#]|\d[.\-/]|${IBAN_GROUPS})`;
const END = String.raw`(?![\w/:]|[.\-]\d|[.\-/][A-Za-z])`;
const STRICT_START = String.raw`(?<![\w+.\-/#]|\d[ .\-/]|${IBAN_GROUPS})`;
const STRICT_END = String.raw`(?![\w/:]|[ .\-]\d|[.\-/][A-Za-z])`;

// International forms, validated per region by libphonenumber: the country code decides
// the region. Groups may be as long as a whole national number ("+44 7911123456"). Each
// group starts with a separator, so the repetitions are unambiguous.
// +44 20 7946 0958, +1 (415) 555-2671, +44 (0)20 7946 0958, +447911123456
const PLUS = String.raw`\+[1-9]\d{0,14}(?:[ .\-]?\(\d{1,4}\)[ .\-]?\d{1,12})?(?:[ .\-]\d{1,12}){0,6}`;
// 0044 20 7946 0958: the 00 call prefix. A space must follow the country code, or dashed
// ids such as 001-01-0001 would qualify; like the national forms, it may not follow another
// digit group, as IBANs and card numbers have groups such as "0086 4940 6041".
const DOUBLE_ZERO = String.raw`00[1-9]\d{0,2} \d{1,12}(?:[ .\-]\d{1,12}){0,5}`;

// National forms carry no country code, so no region to validate against; their shape
// (separators in phone positions) is what tells them from ids, dates and amounts.
// North American: (415) 555-2671, 415-555-2671, 415.555.2671, 1-800-555-0199
const NORTH_AMERICAN = String.raw`(?:1[ .\-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}`;
const OTHER_NATIONAL = [
  // European national forms with a trunk 0: 020 7946 0958, 07700 900123, 030 901820
  String.raw`0[1-9]\d{0,3}[ \-]\d{3,4}[ \-]?\d{3,4}`,
  // French-style pairs: 01 42 68 53 00
  String.raw`0[1-9](?:[ .]\d{2}){4}`,
];

const RELAXED = new RegExp(`${START}(?:${PLUS}|${NORTH_AMERICAN})${END}`, 'g');
const STRICT = new RegExp(`${STRICT_START}(?:${DOUBLE_ZERO}${END}|(?:${OTHER_NATIONAL.join('|')})${STRICT_END})`, 'g');

/** The digits of an international candidate as dialled: "+44 (0)20 ..." drops the (0). */
const dialledDigits = (raw: string): string => raw.replace(/\(0\)/, '').replace(/\D/g, '');

/** Where an international candidate may end: at its end or before any separator. */
function groupEnds(raw: string): number[] {
  const ends = [raw.length];
  for (let i = raw.length - 1; i > 0; i--) if (raw[i] === ' ' || raw[i] === '-' || raw[i] === '.') ends.push(i);
  return ends;
}

/**
 * The prefix of an international candidate, ending at a group boundary, that is the
 * number: a greedy candidate may run on into the next number or a quantity ("+44 20 7946
 * 0958 415-555-0132"), and cutting it at the right place leaves the next one to be found.
 *
 * After a `+`, a length the region's numbers can have is enough: the plus already says
 * "phone number", and libphonenumber rejects ranges reserved for fiction (+44 7700
 * 900xxx), which are still written as phones. Where several prefixes have such a length
 * (regions with variable lengths), the longest one libphonenumber finds valid is taken.
 * The `00` prefix also starts account and ticket numbers, so there the number must be valid.
 */
function internationalSpan(raw: string, offset: number): Match | undefined {
  const ends = groupEnds(raw);
  if (raw.startsWith('00')) {
    const end = ends.find((e) => validInternationalNumber(`+${dialledDigits(raw.slice(0, e)).slice(2)}`));
    return end === undefined ? undefined : { start: offset, end: offset + end };
  }
  const possible = ends.filter((e) => possibleInternationalNumber(dialledDigits(raw.slice(0, e))));
  if (possible.length === 0) return undefined;
  const valid = possible.length === 1 ? undefined : possible.find((e) => validInternationalNumber(`+${dialledDigits(raw.slice(0, e))}`));
  return { start: offset, end: offset + (valid ?? possible[0]!) };
}

function nationalSpan(raw: string, offset: number): Match | undefined {
  const digits = raw.replace(/\D/g, '').length;
  // Fewer than 8 digits is an extension or a short code; E.164 allows at most 15.
  if (digits < 8 || digits > 15) return undefined;
  return { start: offset, end: offset + raw.length };
}

/**
 * Phone numbers in international form (`+CC ...`, `00CC ...`, E.164), validated for the
 * country code's region with libphonenumber's metadata, and in common national forms. A
 * run of digits without phone structure (separators in phone positions or a leading `+`)
 * is not a phone number: order ids, timestamps and amounts look exactly like that. Rule id
 * `pii.phone`.
 */
export const phoneDetector: Detector = {
  id: 'pii.phone',
  category: 'phone',
  find: (text) => {
    const span = (m: RegExpExecArray): Match | undefined =>
      m[0].startsWith('+') || m[0].startsWith('00') ? internationalSpan(m[0], m.index) : nationalSpan(m[0], m.index);
    // Two passes, since the two kinds of form start under different conditions; a strict
    // form never starts inside a relaxed one (it may not follow a digit group), so the
    // spans do not overlap.
    const relaxed = findAll(RELAXED, text, span);
    const strict = findAll(STRICT, text, span);
    return strict.length === 0 ? relaxed : [...relaxed, ...strict].sort((a, b) => a.start - b.start);
  },
};
