/**
 * Decodes a base64 or base64url run and returns it as text when it is valid, printable
 * UTF-8, or `undefined` when it decodes to binary. Encoded prose is how injections hide,
 * and it is also why a long base64 run is not necessarily a secret.
 */
export function decodeBase64Text(run: string): string | undefined {
  const decoded = Buffer.from(run, 'base64').toString('utf8');
  if (decoded.length < 12) return undefined;
  let bad = 0;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    // U+FFFD marks invalid UTF-8; random bytes produce it and control characters often.
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) bad++;
  }
  return bad / decoded.length <= 0.02 ? decoded : undefined;
}
