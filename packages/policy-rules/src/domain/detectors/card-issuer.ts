import creditCardType from 'credit-card-type';

interface IssuerRanges {
  readonly name: string;
  /** A prefix (`34`) or an inclusive range of prefixes of one length (`[2221, 2720]`). */
  readonly patterns: readonly (number | readonly number[])[];
  readonly lengths: readonly number[];
}

// credit-card-type's own lookup clones every card type it returns (~10 µs a call, which
// an 8 KB prompt full of numbers pays many times), so its table is read once here and
// matched in place.
const LIBRARY_ISSUERS: readonly IssuerRanges[] = Object.values(creditCardType.types).map((type) => {
  const info = creditCardType.getTypeInfo(type);
  return { name: info.type, patterns: info.patterns, lengths: info.lengths };
});

/**
 * Issuers and lengths that `credit-card-type` does not list. UATP (the airlines' card,
 * issued as AirPlus among others) numbers start with 1 and are 15 digits long (ISO/IEC 7812
 * major industry identifier 1, airlines). Visa issued 13-digit numbers before moving to 16,
 * and they still appear (processors publish 4222222222222 as a test card).
 */
const SUPPLEMENTARY_ISSUERS: readonly IssuerRanges[] = [
  { name: 'uatp', patterns: [1], lengths: [15] },
  { name: 'visa', patterns: [4], lengths: [13] },
];

const ISSUERS = [...LIBRARY_ISSUERS, ...SUPPLEMENTARY_ISSUERS];

function startsWithin(digits: string, pattern: number | readonly number[]): boolean {
  if (typeof pattern === 'number') return digits.startsWith(String(pattern));
  const [from = 0, to = -1] = pattern;
  const prefix = Number(digits.slice(0, String(from).length));
  return prefix >= from && prefix <= to;
}

/**
 * The card network whose issuer ranges and lengths fit `digits`, or `undefined`. The
 * ranges are `credit-card-type`'s (Braintree's maintained table: Visa, Mastercard, Amex,
 * Diners, Discover, JCB, UnionPay, Maestro incl. Dankort's 5019, Mir, Elo, Hiper,
 * Hipercard, Verve), plus the supplementary issuers above. A Luhn-valid number outside all
 * of them is far more likely an order id or an account number.
 */
export function cardIssuer(digits: string): string | undefined {
  return ISSUERS.find((i) => i.lengths.includes(digits.length) && i.patterns.some((p) => startsWithin(digits, p)))?.name;
}
