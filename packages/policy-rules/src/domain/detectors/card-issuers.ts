/** An issuer identification number range and the card lengths it issues. */
interface IssuerRange {
  readonly name: string;
  /** Inclusive numeric range of the first `prefixLength` digits. */
  readonly from: number;
  readonly to: number;
  readonly prefixLength: number;
  readonly lengths: readonly number[];
}

const r = (name: string, from: number, to: number, lengths: readonly number[]): IssuerRange => ({
  name,
  from,
  to,
  prefixLength: String(from).length,
  lengths,
});

const ANY_16_19 = [16, 17, 18, 19];

// Public IIN ranges of the major networks. A number outside all of them is far more likely
// an order id or account number that happens to pass Luhn.
const ISSUERS: readonly IssuerRange[] = [
  r('visa', 4, 4, [13, 16, 19]),
  r('mastercard', 51, 55, [16]),
  r('mastercard', 2221, 2720, [16]),
  r('amex', 34, 34, [15]),
  r('amex', 37, 37, [15]),
  r('discover', 6011, 6011, ANY_16_19),
  r('discover', 644, 649, ANY_16_19),
  r('discover', 65, 65, ANY_16_19),
  r('diners', 300, 305, [14, 16, 17, 18, 19]),
  r('diners', 36, 36, [14, 16, 17, 18, 19]),
  r('diners', 38, 39, [14, 16, 17, 18, 19]),
  r('jcb', 3528, 3589, ANY_16_19),
  r('unionpay', 62, 62, ANY_16_19),
  r('mir', 2200, 2204, ANY_16_19),
  r('maestro', 5018, 5018, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 5020, 5020, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 5038, 5038, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 5893, 5893, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 6304, 6304, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 6759, 6759, [13, 14, 15, ...ANY_16_19]),
  r('maestro', 6761, 6763, [13, 14, 15, ...ANY_16_19]),
];

/** The card network whose IIN range and length fit `digits`, or `undefined`. */
export function cardIssuer(digits: string): string | undefined {
  for (const i of ISSUERS) {
    const prefix = Number(digits.slice(0, i.prefixLength));
    if (prefix >= i.from && prefix <= i.to && i.lengths.includes(digits.length)) return i.name;
  }
  return undefined;
}
