import { findAll } from './find-all.js';
import type { Detector, Match } from './types.js';

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;

// A dotted quad with valid octets is an address even when the text calls it a version:
// "1.2.3.4" cannot be told apart from 1.2.3.4 the host. What is excluded is a quad that is
// part of something longer: "v1.2.3.4", "1.2.3.4.5", "10.0.0.1234".
const IPV4 = new RegExp(String.raw`(?<![\w.])${OCTET}(?:\.${OCTET}){3}(?![\w]|\.\d)`, 'g');

// Candidates for IPv6: hextets separated by colons, optionally ending in a dotted quad.
// A colon starts every repetition, so the split into hextets is unambiguous; the grammar
// (eight groups, at most one "::") is checked in code.
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.\d)/g;

const HEXTET = /^[0-9A-Fa-f]{1,4}$/;
const QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

function groupsOf(part: string): number | undefined {
  if (part === '') return 0;
  const groups = part.split(':');
  let n = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (i === groups.length - 1 && QUAD.test(g)) n += 2;
    else if (HEXTET.test(g)) n += 1;
    else return undefined;
  }
  return n;
}

/** Whether `s` is an IPv6 address worth flagging; see `ipDetector` for what is left out. */
export function isIpv6(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const counts = halves.map(groupsOf);
  if (counts.some((c) => c === undefined)) return false;
  const total = counts.reduce<number>((a, c) => a + (c ?? 0), 0);
  if (halves.length === 1) return total === 8;
  // "::" alone and "::7" are also slice syntax (`a[::2]`); loopback "::1" is the
  // one short form common enough in prose to keep.
  return total <= 7 && (total >= 2 || s === '::1');
}

/**
 * IPv4 addresses with valid octets (no leading zeros) and IPv6 addresses in full,
 * compressed or IPv4-mapped form. MAC addresses and times have the wrong group count and
 * are not matched. Rule id `pii.ip`.
 */
export const ipDetector: Detector = {
  id: 'pii.ip',
  category: 'ip',
  find: (text) => {
    const v4 = findAll(IPV4, text);
    const v6 = findAll(IPV6, text, (m): Match | undefined => (isIpv6(m[0]) ? { start: m.index, end: m.index + m[0].length } : undefined));
    return v6.length === 0 ? v4 : [...v4, ...v6].sort((a, b) => a.start - b.start);
  },
};
