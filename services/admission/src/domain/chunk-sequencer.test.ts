import { describe, expect, it } from 'vitest';
import { createChunkSequencer } from './chunk-sequencer.js';

const chunk = (seq: number, text: string) => ({ requestId: 'r', seq, attempt: 1, text });

describe('chunk sequencer', () => {
  it('passes chunks on in order, dropping repeats of a retried attempt and holding early ones', () => {
    const out: Array<[string, number]> = [];
    const s = createChunkSequencer((text, seq) => out.push([text, seq]));
    s.accept([chunk(0, 'He')]);
    s.accept([chunk(2, 'o ')]);
    expect(out).toEqual([['He', 0]]);
    s.accept([chunk(1, 'll')]);
    s.accept([chunk(0, 'He')]);
    expect(out).toEqual([
      ['He', 0],
      ['llo ', 1],
    ]);
    expect(s.received).toBe(3);
  });

  it("sends the in-order chunks of one worker message as one piece, numbered in the caller's stream", () => {
    const out: Array<[string, number]> = [];
    const s = createChunkSequencer((text, seq) => out.push([text, seq]));
    s.accept([chunk(0, 'a')]);
    s.accept([chunk(1, 'bc'), chunk(2, 'de'), chunk(4, 'h')]);
    s.accept([chunk(3, 'fg')]);
    expect(out).toEqual([
      ['a', 0],
      ['bcde', 1],
      ['fgh', 2],
    ]);
    expect(s.received).toBe(5);
  });
});
