import { describe, expect, it } from 'vitest';
import { LineTooLongError, createLineSplitter } from './jsonl-lines.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('createLineSplitter', () => {
  it('joins lines cut across chunks, numbers them from 1 and drops CR before LF', () => {
    const split = createLineSplitter();
    const lines = [...split.push(bytes('{"a":1}\r\n{"b"')), ...split.push(bytes(':2}\n')), ...split.push(bytes('{"c":3}')), ...split.end()];
    expect(lines.map((l) => [l.number, l.text])).toEqual([
      [1, '{"a":1}'],
      [2, '{"b":2}'],
      [3, '{"c":3}'],
    ]);
  });

  it('keeps a multi-byte character split between chunks whole', () => {
    const split = createLineSplitter();
    const all = bytes('héllo\n');
    const lines = [...split.push(all.subarray(0, 2)), ...split.push(all.subarray(2)), ...split.end()];
    expect(lines.map((l) => l.text)).toEqual(['héllo']);
  });

  it('refuses a line over the limit, naming its number, before buffering it whole', () => {
    const split = createLineSplitter({ maxLineBytes: 8 });
    split.push(bytes('short\n'));
    expect(() => split.push(bytes('0123456789'))).toThrow(LineTooLongError);
    const refused = (() => {
      try {
        createLineSplitter({ maxLineBytes: 8 }).push(bytes('ok\n0123456789\n'));
      } catch (e) {
        return e as LineTooLongError;
      }
    })();
    expect(refused?.line).toBe(2);
  });

  it('refuses bytes that are not UTF-8', () => {
    const split = createLineSplitter();
    expect(() => split.push(Uint8Array.from([0xff, 0xfe, 0x0a]))).toThrow();
  });
});
