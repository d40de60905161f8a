import { describe, expect, it } from 'vitest';
import { tokenText } from './text.js';

describe('tokenText', () => {
  it('is deterministic per seed and index, and differs across seeds', () => {
    const a = Array.from({ length: 20 }, (_, i) => tokenText(7, i)).join('');
    const b = Array.from({ length: 20 }, (_, i) => tokenText(7, i)).join('');
    const c = Array.from({ length: 20 }, (_, i) => tokenText(8, i)).join('');
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a.split(' ')).toHaveLength(20);
  });
});
