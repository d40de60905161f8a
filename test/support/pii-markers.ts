import { randomBytes, randomInt } from 'node:crypto';

const hex = (n: number) => randomBytes(n).toString('hex');
const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');

/** A Visa-like card number that passes the Luhn check, so detectors treat it as real. */
export function luhnCard(): string {
  const body = `4${digits(14)}`;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    let d = Number(body[14 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/** A GB IBAN with valid check digits. */
export function gbIban(): string {
  const bban = `WEST${digits(14)}`;
  const numeric = `${bban}GB00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rem = 0;
  for (const ch of numeric) rem = (rem * 10 + Number(ch)) % 97;
  return `GB${String(98 - rem).padStart(2, '0')}${bban}`;
}

/**
 * Personal data of the kinds in `test/fixtures/pii/corpus.jsonl` (email, card, national id,
 * phone, IBAN, secret), each unique to this run: finding one anywhere is a leak, never a
 * coincidence. `prompt(i)` plants them in a sentence as a user would write it.
 */
export function piiMarkers() {
  const markers = {
    email: `leak${hex(6)}@example.com`,
    card: luhnCard(),
    ssn: `${randomInt(100, 600)}-${randomInt(10, 100)}-${randomInt(1000, 10_000)}`,
    phone: `+44 20 7946 ${randomInt(1000, 10_000)}`,
    iban: gbIban(),
    apiKey: `ghp_${hex(18)}`,
  };
  const spaced = { cardSpaced: markers.card.replace(/(\d{4})(?=\d)/g, '$1 '), ibanSpaced: markers.iban.replace(/(.{4})(?=.)/g, '$1 ') };
  const sentences = [
    `Draft a reply to ${markers.email} about the refund.`,
    `Refund card ${spaced.cardSpaced} for the customer with SSN ${markers.ssn}.`,
    `Call me on ${markers.phone} and pay to ${spaced.ibanSpaced} today.`,
    `Our deploy key is ${markers.apiKey} please rotate it.`,
    `Card ${markers.card} and IBAN ${markers.iban} are on file.`,
  ];
  return {
    /** Every form a marker is planted in, by name: what a search looks for. */
    needles: { ...markers, ...spaced } as Record<string, string>,
    prompt: (i: number) => sentences[i % sentences.length]!,
    /** One prompt holding every marker. */
    all: sentences.join(' '),
  };
}
