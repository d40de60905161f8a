import { describe, expect, it } from 'vitest';
import { createReplayProgress } from './replay-progress.js';

const terminal = (isTTY: boolean) => {
  let text = '';
  return { stream: { isTTY, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream & { isTTY?: boolean }, text: () => text };
};

describe('replay progress', () => {
  it('draws a \\r line of events read and their rate once an export has run a second, at most 4 times a second', () => {
    let t = 0;
    const err = terminal(true);
    const p = createReplayProgress({ stream: 'USAGE', stderr: err.stream, now: () => t });
    t = 500;
    p.update(30_000);
    expect(err.text()).toBe('');
    t = 2_000;
    p.update(120_000);
    t = 2_100;
    p.update(125_000);
    p.done();
    expect(err.text()).toBe('\rreplay USAGE: 120,000 events read, 60,000/s   \n');
  });

  it('writes nothing when stderr is not a terminal', () => {
    let t = 0;
    const err = terminal(false);
    const p = createReplayProgress({ stream: 'USAGE', stderr: err.stream, now: () => t });
    t = 5_000;
    p.update(1_000);
    p.done();
    expect(err.text()).toBe('');
  });
});
