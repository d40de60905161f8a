import { TokenChunk, TokenChunks, subjects } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';

/**
 * Issue #17, "unfinished work is accounted": a caller who stops a stream pays for the prompt and
 * the tokens it was streamed, no more; a request a worker crash cut short costs the tenant
 * nothing, and the GPU time it burnt is booked as the platform's cost.
 */

let system: RunningSystem;
let client: SwitchyardClient;
const POOL = TEST_POOLS[0]!;
const WORKER = 'test-w0';
const PROMPT = 'tell me everything about the history of railway switchyards, in detail';

beforeAll(async () => {
  // Real-time workers, so a long answer takes seconds and a fault lands mid-stream.
  system = await startSystem({ workerSpeed: 1, workerFaults: true });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);
afterAll(async () => {
  client?.close();
  await system?.stop();
});

const fault = async (body: Record<string, unknown>) =>
  JSON.parse(
    new TextDecoder().decode((await system.nc.request(subjects.workerControl(POOL.id, WORKER), JSON.stringify(body), { timeout: 5_000 })).data),
  ) as Record<string, unknown>;

interface UsageRow {
  usage_id: string;
  input_tokens: number;
  output_tokens: number;
  amount_micros: string;
  gpu_seconds: number;
  gpu_cost_micros: string;
}
const ledgerRows = (requestId: string) =>
  system.sql<UsageRow[]>`
    SELECT usage_id, input_tokens, output_tokens, amount_micros, gpu_seconds, gpu_cost_micros
      FROM ledger_transactions WHERE kind = 'usage' AND request_id = ${requestId}`;

/** The simulated model's tokens are words, each but the first after a space. */
const words = (text: string) => text.split(' ').filter(Boolean).length;

/** Opens a long stream and collects what the caller receives. */
function openStream(timeoutMs?: number) {
  const stream = client.generate({ model: 'llama-3.1-8b', prompt: PROMPT, maxTokens: 2_000, timeoutMs });
  const got = { requestId: '', chunks: 0, text: '', lastAt: Date.now(), ended: false };
  stream.on('data', (e: { event?: { $case: string; started?: { requestId: string }; chunk?: { text: string } } }) => {
    if (e.event?.$case === 'started') got.requestId = e.event.started!.requestId;
    if (e.event?.$case === 'chunk') {
      got.chunks++;
      got.text += e.event.chunk!.text;
      got.lastAt = Date.now();
    }
  });
  // A cancelled call ends in a CANCELLED error; the test reads the outcome from the ledger.
  stream.on('error', () => (got.ended = true));
  stream.on('end', () => (got.ended = true));
  return { stream, got };
}

/** Counts the output tokens the workers sent for one request, as the bus carried them. */
function watchSent(requestId: () => string) {
  let sent = 0;
  const count = (c: TokenChunk) => {
    if (c.requestId === requestId()) sent += words(c.text);
  };
  const subs = [
    system.nc.subscribe('_SY.relay.>', { callback: (_e, m) => TokenChunks.decode(m.data).chunks.forEach(count) }),
    system.nc.subscribe('_SY.tokens.>', { callback: (_e, m) => count(TokenChunk.decode(m.data)) }),
  ];
  return {
    get sent() {
      return sent;
    },
    stop: () => subs.forEach((s) => s.unsubscribe()),
  };
}

describe('unfinished work', () => {
  it('a caller who cancels after N output tokens is billed the prompt and exactly N output tokens', async () => {
    // The same prompt run to the end: its input tokens are what any attempt of it reads.
    const whole = await client.complete({ model: 'llama-3.1-8b', prompt: PROMPT, maxTokens: 4 });
    const [completed] = await waitFor('the whole request billed', async () => {
      const rows = await ledgerRows(whole.requestId);
      return rows.length ? rows : undefined;
    });
    expect(completed!.input_tokens).toBeGreaterThan(0);

    // What left the worker for the request, as the bus carried it.
    const { stream, got } = openStream();
    const bus = watchSent(() => got.requestId);
    try {
      await waitFor('a few chunks', () => (got.chunks >= 5 ? true : undefined));
      // Freeze the worker mid-answer, so "after N tokens" is exact: nothing more is generated.
      expect(await fault({ kind: 'hang' })).toMatchObject({ hung: true });
      await waitFor('the caller to have everything the worker sent', () => {
        const n = words(got.text);
        return n === bus.sent && Date.now() - got.lastAt > 300 ? true : undefined;
      });
      const n = words(got.text);
      expect(n).toBeGreaterThanOrEqual(5);
      expect(n).toBeLessThan(2_000);
      stream.cancel();

      const [row] = await waitFor('the cancelled request billed', async () => {
        const rows = await ledgerRows(got.requestId);
        return rows.length ? rows : undefined;
      });
      expect(row).toMatchObject({ input_tokens: completed!.input_tokens, output_tokens: n });
      expect(row!.usage_id).not.toBe(`usage-${got.requestId}`);
      expect(Number(row!.amount_micros)).toBeGreaterThan(0);
      expect(row!.gpu_seconds).toBeGreaterThan(0);
      const [metered] = await system.sql<{ outcome: string; output_tokens: string }[]>`
        SELECT outcome, output_tokens FROM metered_usage WHERE request_id = ${got.requestId}`;
      expect(metered).toMatchObject({ outcome: 'cancelled', output_tokens: String(n) });
    } finally {
      bus.stop();
      await fault({ kind: 'clear' });
    }
  });

  it('a deadline that passes mid-stream ends the request EXPIRED, billed the prompt and the tokens streamed until then', async () => {
    const { got } = openStream(1_500);
    const bus = watchSent(() => got.requestId);
    try {
      await waitFor('the call to end at its deadline', () => (got.ended ? true : undefined));
      const [row] = await waitFor('the expired request billed', async () => {
        const rows = await ledgerRows(got.requestId);
        return rows.length ? rows : undefined;
      });
      const [metered] = await system.sql<{ outcome: string }[]>`SELECT outcome FROM metered_usage WHERE request_id = ${got.requestId}`;
      expect(metered!.outcome).toBe('expired');
      // Every token the worker streamed before it stopped, and not one more.
      expect(row!.output_tokens).toBe(bus.sent);
      expect(row!.output_tokens).toBeGreaterThan(0);
      expect(row!.output_tokens).toBeLessThan(2_000);
      expect(row!.input_tokens).toBeGreaterThan(0);
      expect(Number(row!.amount_micros)).toBeGreaterThan(0);
    } finally {
      bus.stop();
    }
  });

  it('a caller whose own deadline fires a moment before ours (its clock started first) ends EXPIRED, not CANCELLED', async () => {
    // A gRPC caller's deadline reaches us as a plain cancel, a little before our copy of it
    // passes: CI once saw the test above end 'cancelled' that way. Here the caller leaves
    // 150 ms before its deadline on purpose.
    const { stream, got } = openStream(3_000);
    const sentAt = Date.now();
    await waitFor('a few chunks', () => (got.chunks >= 3 ? true : undefined));
    await new Promise((r) => setTimeout(r, Math.max(0, sentAt + 2_850 - Date.now())));
    stream.cancel();
    const [metered] = await waitFor('the request metered', async () => {
      const rows = await system.sql<{ outcome: string }[]>`SELECT outcome FROM metered_usage WHERE request_id = ${got.requestId}`;
      return rows.length ? rows : undefined;
    });
    expect(metered!.outcome).toBe('expired');
  });

  it('a worker crash mid-stream bills the tenant nothing and books the GPU time it spent as platform cost', async () => {
    const costOf = async () => {
      const [row] = await system.sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${`platform:gpu_cost:${POOL.id}`}`;
      return Number(row?.b ?? 0);
    };
    const costBefore = await costOf();
    const { stream, got } = openStream();
    try {
      await waitFor('a few chunks', () => (got.chunks >= 5 ? true : undefined));
      // Down for a moment; its batch is redelivered only after the ack wait, long after this test.
      expect(await fault({ kind: 'crash', durationMs: 500 })).toMatchObject({ crashed: true });
      const [row] = await waitFor('the crashed attempt in the ledger', async () => {
        const rows = await ledgerRows(got.requestId);
        return rows.length ? rows : undefined;
      });
      expect(row).toMatchObject({ input_tokens: 0, output_tokens: 0, amount_micros: '0' });
      expect(row!.gpu_seconds).toBeGreaterThan(0);
      expect(Number(row!.gpu_cost_micros)).toBe(Math.round((row!.gpu_seconds * POOL.pricePerGpuHour! * 1e6) / 3600));
      expect(Number(row!.gpu_cost_micros)).toBeGreaterThan(0);
      // The pool's GPU cost account carries it.
      expect((await costOf()) - costBefore).toBeGreaterThanOrEqual(Number(row!.gpu_cost_micros));
      const [metered] = await system.sql<{ outcome: string; gpu_us: string }[]>`SELECT outcome, gpu_us FROM metered_usage WHERE request_id = ${got.requestId}`;
      expect(metered!.outcome).toBe('failed');
      expect(Number(metered!.gpu_us)).toBeGreaterThan(0);
    } finally {
      stream.cancel();
      await waitFor('the worker back', async () => ((await fault({ kind: 'status' })).crashed === false ? true : undefined));
    }
  });
});
