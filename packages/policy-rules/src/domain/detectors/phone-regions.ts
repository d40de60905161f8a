import { getCountries, getCountryCallingCode, Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/min';

// libphonenumber-js's "min" metadata: per region the calling code, the possible lengths and
// the general number pattern, without the per-type patterns of "max" (fixed line, mobile,
// ...), which a detector has no use for; it is the smallest set and the quickest to load.
//
// Parsing a number with the library costs 12-25 µs, mostly building regexes for each call,
// and a prompt may hold hundreds of candidates. The possible lengths of every calling code
// are therefore read once here; the full parse is kept for the cases that need it.
const POSSIBLE_LENGTHS: ReadonlyMap<string, ReadonlySet<number>> = (() => {
  const metadata = new Metadata();
  const byCallingCode = new Map<string, Set<number>>();
  for (const country of getCountries()) {
    metadata.selectNumberingPlan(country);
    const code = getCountryCallingCode(country);
    const lengths = byCallingCode.get(code) ?? new Set<number>();
    for (const n of metadata.numberingPlan?.possibleLengths() ?? []) lengths.add(n);
    byCallingCode.set(code, lengths);
  }
  return byCallingCode;
})();

/**
 * Whether `e164Digits` (country calling code and national number, digits only) has a
 * length that numbers of its calling code's regions can have. Calling codes are prefix-free
 * (ITU-T E.164), so at most one of the 1-3 digit prefixes is a calling code.
 */
export function possibleInternationalNumber(e164Digits: string): boolean {
  for (let codeLength = 1; codeLength <= 3; codeLength++) {
    const lengths = POSSIBLE_LENGTHS.get(e164Digits.slice(0, codeLength));
    if (lengths !== undefined) return lengths.has(e164Digits.length - codeLength);
  }
  return false;
}

/** Whether `e164` (`+` and digits) is a valid number of its region, by the full parse. */
export function validInternationalNumber(e164: string): boolean {
  return parsePhoneNumberFromString(e164, { extract: false })?.isValid() === true;
}
