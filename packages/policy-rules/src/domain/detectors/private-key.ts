import type { Detector, Match } from './types.js';

// Labels such as "RSA ", "EC ", "OPENSSH ", "ENCRYPTED " precede "PRIVATE KEY". Each
// repetition ends in a space that its body cannot contain, so it is unambiguous.
const HEADER = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;
const FOOTER = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;
// What a truncated paste still carries after the header: full base64 lines (64 chars in
// PKCS#8, 70 in OpenSSH), then at most one shorter line that ends its line. Everything
// in it is optional, so the sticky match always succeeds without backtracking.
const BODY = /(?:\s*[A-Za-z0-9+/]{60,76})*(?:\s*[A-Za-z0-9+/]{1,76}={0,2}(?=[ \t]*(?:\r?\n|$)))?/y;

/**
 * PEM private key blocks, from `-----BEGIN ... PRIVATE KEY-----` through the matching END
 * line. A block pasted without its END line is covered up to where the base64 body stops,
 * since half a key is still a leak. Rule id `secret.private_key`.
 */
export const privateKeyDetector: Detector = {
  id: 'secret.private_key',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    const header = new RegExp(HEADER);
    const footer = new RegExp(FOOTER);
    // Once a footer search from some point fails, every later one would too; remembering
    // that keeps a text full of headers linear.
    let footerless = false;
    for (let m = header.exec(text); m !== null; m = header.exec(text)) {
      let end: number | undefined;
      if (!footerless) {
        footer.lastIndex = header.lastIndex;
        const f = footer.exec(text);
        if (f === null) footerless = true;
        else end = f.index + f[0].length;
      }
      if (end === undefined) {
        const body = new RegExp(BODY);
        body.lastIndex = header.lastIndex;
        end = header.lastIndex + (body.exec(text)?.[0].length ?? 0);
      }
      out.push({ start: m.index, end });
      header.lastIndex = end;
    }
    return out;
  },
};
