import { describe, expect, it } from 'vitest';
import { createPoolRoom } from './pool-room.js';

const beat = (freeSlots: number, atUnixMs = 0) => ({ atUnixMs, freeSlots });

describe('createPoolRoom', () => {
  it('sends what a heartbeat showed free, less what went out since it', () => {
    const room = createPoolRoom(16);
    expect(room.room([beat(6, 1_000), beat(4, 1_000)], 0, 1_000, 1_000)).toBe(10);
    room.sent(7, 1_010);
    expect(room.room([beat(6, 1_000), beat(4, 1_000)], 0, 1_005, 1_020)).toBe(3);
    // Sends before the heartbeat are in it already.
    expect(room.room([beat(6, 1_050), beat(4, 1_050)], 0, 1_005, 1_060)).toBe(10);
  });

  it('gives a full-looking pool one request, then twice what it took while it takes at once', () => {
    const room = createPoolRoom(16);
    expect(room.room([beat(0)], 0, 100, 100)).toBe(1);
    room.sent(1, 100);
    // Not judged yet: nothing more below full size.
    expect(room.room([beat(0)], 0, 99, 101)).toBe(0);
    expect(room.room([beat(0)], 0, 102, 102)).toBe(2);
    room.sent(2, 103);
    expect(room.room([beat(0)], 0, 104, 104)).toBe(4);
    room.sent(4, 105);
    expect(room.room([beat(0)], 0, 106, 106)).toBe(8);
    room.sent(8, 107);
    expect(room.room([beat(0)], 0, 108, 108)).toBe(16);
    room.sent(16, 109);
    // Capped at the preferred size; at full size the next batch does not wait for the verdict.
    expect(room.room([beat(0)], 0, 108, 110)).toBe(16);
  });

  it('doubles from a taken batch the heartbeat sized', () => {
    const room = createPoolRoom(16);
    room.sent(7, 100);
    expect(room.room([beat(0)], 0, 101, 101)).toBe(14);
  });

  it('halves, down to 1, while batches sit on the stream past the settle time, and sends nothing while every worker has one', () => {
    const room = createPoolRoom(16);
    room.sent(16, 100);
    expect(room.room([beat(0)], 0, 101, 101)).toBe(16);
    room.sent(16, 110);
    // Still there 2 ms later: too soon to judge; one worker, one batch waiting: no room.
    expect(room.room([beat(0)], 1, 112, 112)).toBe(0);
    // Still there at 5 ms: no worker was waiting for it.
    expect(room.room([beat(0)], 1, 115, 115)).toBe(0);
    expect(room.room([beat(0)], 0, 130, 130)).toBe(8);
    room.sent(8, 131);
    expect(room.room([beat(0)], 1, 140, 140)).toBe(0);
    room.sent(0, 141);
    for (let t = 150; t < 200; t += 10) {
      room.sent(1, t);
      room.room([beat(0)], 1, t + 6, t + 6);
    }
    expect(room.room([beat(0)], 0, 210, 210)).toBe(1);
  });

  it('has no room without heartbeats', () => {
    expect(createPoolRoom(16).room([], 0, 0, 0)).toBe(0);
  });
});
