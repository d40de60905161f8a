import type { Detector, Match } from './types.js';

// A credential-named key, an assignment, then one token as the value. The key may end a
// longer identifier (DB_PASSWORD, client_secret, dbPassword); where it starts is checked
// in code, since a leading literal lets the regex engine skip ahead quickly.
const ASSIGNMENT =
  /(?:password|passwd|pwd|pass|secret|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key|auth[_\-]?token|access[_\-]?token|client[_\-]?secret|private[_\-]?key)["']?[ \t]{0,4}(?:=|:|=>|:=)[ \t]{0,4}(["'`]?)([^\s"'`,;]{8,200})\1/gi;

/**
 * The key name must start an identifier or an identifier segment: after a non-letter
 * (`DB_PASSWORD`) or as a camel-case hump (`dbPassword`), not inside a word (`bypass`).
 */
function startsKey(text: string, i: number): boolean {
  const before = text[i - 1];
  if (before === undefined || !/[A-Za-z0-9]/.test(before)) return true;
  return /[a-z0-9]/.test(before) && /[A-Z]/.test(text[i]!);
}

// Values that name a secret instead of being one: references, templates, masks, and
// paths (`pwd: /home/me` is a shell prompt, not a password).
const INDIRECT = /^(?:[/~]|process\.env|os\.environ|env\(|\$\{|\$[A-Z_]|\{\{|<|%|\*{3,}|x{4,}|null|undefined|true|false|none)|\(\)$/i;

/** How many of lower, upper, digit and symbol classes `s` mixes. */
function classes(s: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(s)).length;
}

/**
 * Passwords and keys assigned to a credential-named field in config, code or env files
 * (`DB_PASSWORD=...`, `"client_secret": "..."`). Values that are references
 * (`process.env.X`, `${X}`), placeholders, masks, or a single character class (a plain
 * word, a type name such as `string`) are left out. Rule id `secret.assignment`.
 */
export const secretAssignmentDetector: Detector = {
  id: 'secret.assignment',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    for (const m of text.matchAll(ASSIGNMENT)) {
      const value = m[2]!;
      if (!startsKey(text, m.index) || INDIRECT.test(value) || classes(value) < 2) continue;
      const start = m.index + m[0].lastIndexOf(value);
      out.push({ start, end: start + value.length });
    }
    return out;
  },
};
