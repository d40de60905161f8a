import { describe, expect, it } from 'vitest';
import { commaList, tlsFilesOf } from './common.js';

describe('a comma-separated setting', () => {
  it('gives its trimmed, non-empty items; unset or empty gives none', () => {
    expect(commaList.parse(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(commaList.parse('')).toEqual([]);
    expect(commaList.parse(undefined)).toEqual([]);
  });
});

describe('tlsFilesOf', () => {
  it('is plaintext with neither file, TLS with both, and refuses one alone naming both settings', () => {
    expect(tlsFilesOf({ TLS_RELOAD_MS: 2_000 })).toBeUndefined();
    expect(tlsFilesOf({ TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', TLS_RELOAD_MS: 500 })).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', reloadMs: 500 });
    expect(() => tlsFilesOf({ TLS_CERT_FILE: 'c.pem', TLS_RELOAD_MS: 2_000 })).toThrow(/TLS_CERT_FILE .*TLS_KEY_FILE/);
  });
});
