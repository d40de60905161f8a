import { describe, expect, it } from 'vitest';
import { findStop } from './stop-sequences.js';
import { tokenText } from './text.js';

const answer = (seed: number, tokens: number) => Array.from({ length: tokens }, (_, i) => tokenText(seed, i)).join('');

describe('findStop', () => {
  it('ends the answer with the token that completes the sequence, and hides the sequence', () => {
    const full = answer(5, 40);
    const word = full.split(' ')[6]!;
    const stop = findStop(5, 40, [` ${word}`])!;
    const visible = full.slice(0, stop.visibleChars);
    expect(visible).not.toContain(` ${word}`);
    expect(full.slice(stop.visibleChars).startsWith(` ${word}`)).toBe(true);
    expect(answer(5, stop.tokens).endsWith(word)).toBe(true);
    expect(stop.tokens).toBeLessThanOrEqual(7);
  });

  it('stops at whichever sequence comes first, and finds one that straddles two tokens', () => {
    const full = answer(9, 30);
    const words = full.split(' ');
    const straddling = `${words[3]!.slice(-2)} ${words[4]!.slice(0, 2)}`;
    const stop = findStop(9, 30, ['no such text', straddling])!;
    expect(full.indexOf(straddling)).toBe(stop.visibleChars);
    expect(stop.tokens).toBe(
      answer(9, 30)
        .split(' ')
        .findIndex((_, i) => answer(9, i + 1).includes(straddling)) + 1,
    );
  });

  it('runs to max_tokens when no sequence appears, and ignores empty ones', () => {
    expect(findStop(3, 20, ['no such text'])).toBeUndefined();
    expect(findStop(3, 20, [''])).toBeUndefined();
    expect(findStop(3, 20, [])).toBeUndefined();
  });
});
