import { cardIssuer } from './card-issuer.js';
import { findAll } from './find-all.js';
import { luhnValid } from './luhn.js';
import type { Detector, Match } from './types.js';

// 13-19 digits with at most one space or dash between any two. Each repetition consumes
// exactly one digit, so the pattern is unambiguous. It may not start inside a word or a
// decimal, nor after a dash that follows a letter ("ORD-4111..."), but it may start right
// after another number: "Room 12 4111 1111 1111 1111" and two cards side by side
// ("4111111111111111 5555555555554444") are each found, since `findAll` tries again past
// a rejected or shortened candidate. A card number is never written after a plus sign
// ("+4474001234560123" is a phone number too long to be one). Digit groups of an IBAN ("PL17 5231 8218 ...") are
// the IBAN detector's, not the start of a card; the lookbehind is bounded by an IBAN's
// 34 characters, or it would walk back over a whole run of digit groups at every position.
// The first digit is matched before the lookbehind runs, so positions that are not digits
// cost one character test.
const CANDIDATE = /\d(?<!(?:[\w.+]|(?<!\d)-|[A-Z]{2}\d{2}[ -](?:[A-Z0-9]{4}[ -]){0,7})\d)(?:[ -]?\d){12,22}(?![\w]|[.,]\d)/g;

/**
 * Picks the longest prefix of the candidate that is a card number. When the number is
 * written in groups, it may only end at a group boundary, so "4242 4242 4242 4242 12"
 * (a card followed by a quantity) still yields the card; an ungrouped run must be a card
 * as a whole, since any 13-19 digit window of a long id passes Luhn one time in ten.
 * Networks print numbers in groups of three to six (4-4-4-4, 4-6-5, 4-4-4-4-3), so a
 * prefix with a shorter group before its last is a run of other numbers side by side
 * ("6789 078 05 1123": the end of one SSN and the whole of the next).
 */
function cardSpan(raw: string, offset: number): Match | undefined {
  const groups = raw.split(/[ -]/);
  // Only prefixes up to the first short group (it may end one) are candidates; in a run of
  // short groups ("12-34-56-...") that leaves none, and the check is over at once.
  const firstShort = groups.findIndex((g) => g.length < 3);
  const most = firstShort === -1 ? groups.length : firstShort + 1;
  let end = groups.slice(0, most).join(' ').length;
  let digits = groups.slice(0, most).join('');
  for (let count = most; count > 0; count--) {
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits) && cardIssuer(digits) !== undefined) {
      return { start: offset, end: offset + end };
    }
    const last = groups[count - 1]!.length;
    digits = digits.slice(0, digits.length - last);
    end -= last + 1;
  }
  return undefined;
}

/**
 * Payment card numbers (PAN): 13-19 digits, optionally grouped with spaces or dashes,
 * within a card network's issuer ranges and with a valid Luhn check digit. Rule id
 * `pii.card`.
 */
export const cardDetector: Detector = {
  id: 'pii.card',
  category: 'card',
  find: (text) => findAll(CANDIDATE, text, (m) => cardSpan(m[0], m.index)),
};
