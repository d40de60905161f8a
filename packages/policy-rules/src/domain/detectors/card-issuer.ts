import creditCardType from 'credit-card-type';

/**
 * Issuers and lengths that `credit-card-type` does not list. UATP (the airlines' card,
 * issued as AirPlus among others) numbers start with 1 and are 15 digits long (ISO/IEC 7812
 * major industry identifier 1, airlines). Visa issued 13-digit numbers before moving to 16,
 * and they still appear (processors publish 4222222222222 as a test card).
 */
const SUPPLEMENTARY_ISSUERS: readonly { readonly name: string; readonly prefix: RegExp; readonly length: number }[] = [
  { name: 'uatp', prefix: /^1/, length: 15 },
  { name: 'visa', prefix: /^4/, length: 13 },
];

/**
 * The card network whose issuer ranges and lengths fit `digits`, or `undefined`. The
 * ranges are `credit-card-type`'s (Braintree's maintained table: Visa, Mastercard, Amex,
 * Diners, Discover, JCB, UnionPay, Maestro incl. Dankort's 5019, Mir, Elo, Hiper,
 * Hipercard, Verve), plus the supplementary issuers above. A Luhn-valid number outside all
 * of them is far more likely an order id or an account number.
 */
export function cardIssuer(digits: string): string | undefined {
  const known = creditCardType(digits).find((t) => t.lengths.includes(digits.length));
  if (known !== undefined) return known.type;
  return SUPPLEMENTARY_ISSUERS.find((i) => i.length === digits.length && i.prefix.test(digits))?.name;
}
