import { describe, expect, it } from 'vitest';
import { adapterHeartbeat, upstreamRoom, type UpstreamLoad } from './adapter-heartbeat.js';

const load: UpstreamLoad = {
  pool: 'p',
  worker: 'w',
  running: 3,
  waiting: 0,
  limit: 8,
  ttftMs: 120,
  stopping: false,
  circuitOpen: false,
  pausedUntilMs: 0,
  rateRoom: Infinity,
  nowMs: 5_000,
};
const engine = { running: 20, waiting: 4, kvUsed: 0.93, ttftSumS: 0, ttftCount: 0 };

describe("an upstream's heartbeat and pull room", () => {
  it('offers the free part of the concurrency limit as slots, none while stopping', () => {
    expect(adapterHeartbeat(load)).toMatchObject({ freeSlots: 5, running: 3, ttftMs: 120, draining: false, kvUsed: 0 });
    expect(adapterHeartbeat({ ...load, stopping: true })).toMatchObject({ freeSlots: 0, draining: true });
    expect(adapterHeartbeat({ ...load, running: 9 }).freeSlots).toBe(0);
    expect(adapterHeartbeat({ ...load, running: 8, waiting: 2 })).toMatchObject({ freeSlots: 0, waiting: 2 });
  });
  it("reports the engine's own queue and KV-cache use, and pulls less while the engine queues", () => {
    expect(adapterHeartbeat({ ...load, engine })).toMatchObject({ running: 20, waiting: 4, kvUsed: 0.93, freeSlots: 1 });
    expect(upstreamRoom({ ...load, engine })).toBe(1);
    expect(upstreamRoom({ ...load, engine: { ...engine, waiting: 40 } })).toBe(0);
  });
  it('takes an open breaker out of placement but keeps pulling, so queued work is re-placed at once', () => {
    expect(adapterHeartbeat({ ...load, circuitOpen: true })).toMatchObject({ draining: true, freeSlots: 0 });
    expect(upstreamRoom({ ...load, circuitOpen: true })).toBe(8);
  });
  it("offers no more than the provider's rate limits allow", () => {
    expect(upstreamRoom({ ...load, rateRoom: 2 })).toBe(2);
    expect(adapterHeartbeat({ ...load, rateRoom: 0 }).freeSlots).toBe(0);
  });
  it('pulls nothing while a 429 asked it to wait, and again after', () => {
    expect(upstreamRoom({ ...load, pausedUntilMs: 6_000 })).toBe(0);
    expect(adapterHeartbeat({ ...load, pausedUntilMs: 6_000 })).toMatchObject({ freeSlots: 0, draining: false });
    expect(upstreamRoom({ ...load, pausedUntilMs: 5_000 })).toBe(5);
  });
});
