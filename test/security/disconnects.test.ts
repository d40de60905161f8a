import { Outcome, type RequestTerminated } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;

beforeAll(async () => {
  // Real-time workers: 2,000 tokens take seconds, so a disconnect lands mid-generation.
  system = await startSystem({ workerSpeed: 1 });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${system.httpUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${system.apiKey}`, ...headers },
    body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'write a very long story' }], ...body }),
    signal,
  });

/** The request's terminal event on LIFECYCLE, once the worker reported it. */
const terminalOf = (requestId: string) =>
  waitFor(
    `terminal event of ${requestId}`,
    async () => {
      for (const { event } of await readStream(system.nc, 'LIFECYCLE')) {
        if (event.envelope?.requestId === requestId && event.payload?.$case === 'requestTerminated') return event.payload.requestTerminated;
      }
      return undefined;
    },
    20_000,
  ) as Promise<RequestTerminated>;

describe('HTTP clients that go away', () => {
  it('cancels a streamed generation when the client closes the connection after the first event', async () => {
    const abort = new AbortController();
    const res = await chat({ stream: true, max_tokens: 2_000 }, {}, abort.signal);
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    abort.abort();
    await reader.closed.catch(() => {});

    const terminal = await terminalOf(requestId);
    expect(terminal.outcome).toBe(Outcome.OUTCOME_CANCELLED);
    expect(terminal.usage?.outputTokens ?? 0).toBeLessThan(2_000);
  });

  it("lets 50 concurrent calls with one Idempotency-Key join the first call's result", async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => chat({ max_tokens: 16, seed: 9 }, { 'idempotency-key': 'http-once' })));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 200));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { id: string; choices: { message: { content: string } }[] }[];
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.choices[0]!.message.content)).size).toBe(1);
    expect(bodies[0]!.choices[0]!.message.content.length).toBeGreaterThan(0);
  });
});
