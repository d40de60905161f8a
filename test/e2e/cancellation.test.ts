import { Outcome } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalsByRequest, readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;

beforeAll(async () => {
  // Real-time workers: an 8B decode step on an H100 takes milliseconds, so 2,000 tokens take seconds.
  system = await startSystem({ workerSpeed: 1 });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

describe('client cancellation', () => {
  it('stops generation on the worker within 500 ms of the client cancelling mid-stream', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const stream = client.generate({ model: 'llama-3.1-8b', prompt: 'write a very long story', maxTokens: 2_000 });
    let requestId = '';
    let chunks = 0;
    let cancelledAt = 0;
    const chunkTimes: number[] = [];
    let sub: ReturnType<typeof system.nc.subscribe> | undefined;
    try {
      for await (const e of stream) {
        if (e.event?.$case === 'started') {
          requestId = e.event.started.requestId;
          // Watch the worker's own output for this request, past the cancel.
          sub = system.nc.subscribe(`_SY.tokens.*.${requestId}`, { callback: () => void chunkTimes.push(Date.now()) });
        }
        if (e.event?.$case === 'chunk' && ++chunks === 5) {
          cancelledAt = Date.now();
          stream.cancel();
        }
      }
    } catch (e) {
      // grpc-js ends a cancelled call with a CANCELLED error; anything else is a failure.
      expect(e).toMatchObject({ code: 1 });
    }
    expect(cancelledAt).toBeGreaterThan(0);

    const terminals = await waitFor('terminal event', async () => ((await terminalsByRequest(system.nc)).get(requestId)?.length ? true : undefined));
    expect(terminals).toBe(true);
    const lifecycle = (await readStream(system.nc, 'LIFECYCLE')).find((m) => m.event.envelope?.requestId === requestId)!;
    const t = lifecycle.event.payload?.$case === 'requestTerminated' ? lifecycle.event.payload.requestTerminated : undefined;
    expect(t?.outcome).toBe(Outcome.OUTCOME_CANCELLED);
    // Far fewer chunks than a full 2,000-token answer (4 tokens a chunk) ever left the worker.
    expect(chunkTimes.length).toBeLessThan(2_000 / 4 / 2);
    const stoppedAfterMs = lifecycle.event.envelope!.timeUnixMs - cancelledAt;
    console.log(`cancel -> worker's terminal event: ${stoppedAfterMs} ms; chunks streamed in all: ${chunkTimes.length}`);
    expect(stoppedAfterMs).toBeLessThan(500);
    // No token left the worker more than 500 ms after the cancel.
    expect(chunkTimes.filter((at) => at > cancelledAt + 500)).toEqual([]);
    sub?.unsubscribe();
    client.close();
  });
});
