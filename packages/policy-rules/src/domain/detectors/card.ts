import { cardIssuer } from './card-issuers.js';
import { findAll } from './find-all.js';
import { luhnValid } from './luhn.js';
import type { Detector, Match } from './types.js';

// 13-19 digits with at most one space or dash between any two. Each repetition consumes
// exactly one digit, so the pattern is unambiguous. The lookbehind keeps us from starting
// inside a word or right after another digit group (IBAN and account numbers).
const CANDIDATE = /(?<![\w\-.]|\d[ -])\d(?:[ -]?\d){12,22}(?![\w]|[.,]\d)/g;

/**
 * Picks the longest prefix of the candidate that is a card number. When the number is
 * written in groups, it may only end at a group boundary, so "4242 4242 4242 4242 12"
 * (a card followed by a quantity) still yields the card; an ungrouped run must be a card
 * as a whole, since any 13-19 digit window of a long id passes Luhn one time in ten.
 */
function cardSpan(raw: string, offset: number): Match | undefined {
  const grouped = /[ -]/.test(raw);
  const ends: number[] = [];
  if (grouped) {
    for (let i = 0; i <= raw.length; i++) if (i === raw.length || raw[i] === ' ' || raw[i] === '-') ends.push(i);
  } else {
    ends.push(raw.length);
  }
  for (let k = ends.length - 1; k >= 0; k--) {
    const piece = raw.slice(0, ends[k]);
    const digits = piece.replace(/\D/g, '');
    if (digits.length < 13 || digits.length > 19) continue;
    if (luhnValid(digits) && cardIssuer(digits) !== undefined) return { start: offset, end: offset + piece.length };
  }
  return undefined;
}

/**
 * Payment card numbers (PAN): 13-19 digits, optionally grouped with spaces or dashes,
 * with a known issuer prefix and a valid Luhn check digit. Rule id `pii.card`.
 */
export const cardDetector: Detector = {
  id: 'pii.card',
  category: 'card',
  find: (text) => findAll(CANDIDATE, text, (m) => cardSpan(m[0], m.index)),
};
