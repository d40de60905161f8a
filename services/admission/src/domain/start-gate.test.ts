import { describe, expect, it } from 'vitest';
import { createStartGate } from './start-gate.js';

describe('start gate', () => {
  it('holds chunks that arrive before the call started, then hands them on in order', () => {
    const seen: string[] = [];
    const gate = createStartGate((text, seq) => seen.push(`${seq}:${text}`));
    gate.onChunk('Hel', 0);
    gate.onChunk('lo', 1);
    expect(seen).toEqual([]);
    gate.open();
    expect(seen).toEqual(['0:Hel', '1:lo']);
    gate.onChunk(' world', 2);
    expect(seen).toEqual(['0:Hel', '1:lo', '2: world']);
  });

  it('opening twice hands nothing on twice', () => {
    const seen: string[] = [];
    const gate = createStartGate((text) => seen.push(text));
    gate.onChunk('a', 0);
    gate.open();
    gate.open();
    expect(seen).toEqual(['a']);
  });
});
