import { describe, expect, it } from 'vitest';
import { commaList } from './common.js';

describe('a comma-separated setting', () => {
  it('gives its trimmed, non-empty items; unset or empty gives none', () => {
    expect(commaList.parse(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(commaList.parse('')).toEqual([]);
    expect(commaList.parse(undefined)).toEqual([]);
  });
});
