/**
 * ISO 13616 check: move the first four characters to the end, read letters as 10-35 and
 * the result must be 1 mod 97. Computed digit by digit, since the number has ~60 digits.
 * `iban` must be upper-case alphanumerics without spaces.
 */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    if (code >= 48 && code <= 57) rem = (rem * 10 + (code - 48)) % 97;
    else if (code >= 65 && code <= 90) rem = (rem * 100 + (code - 55)) % 97;
    else return false;
  }
  return rem === 1;
}
