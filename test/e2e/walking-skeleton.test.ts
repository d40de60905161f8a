import { status, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@switchyard/bus';
import { Outcome, RequestState, streams, type GenerateResponse } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let client: SwitchyardClient;

beforeAll(async () => {
  system = await startSystem();
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey, billingAddress: system.billingAddress });
}, 60_000);

afterAll(async () => {
  client?.close();
  await system?.stop();
});

async function collect(stream: AsyncIterable<GenerateResponse>) {
  const events: GenerateResponse[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

const subjectCount = async (stream: string, subject: string) => {
  const jsm = await jetstreamManager(system.nc);
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
};

describe('walking skeleton: one request through all seven services', () => {
  it('streams every token in order, completes once and is billed once in a balanced transaction', async () => {
    const events = await collect(client.generate({ model: 'llama-3.1-8b', prompt: 'Say hello to the switchyard', maxTokens: 24, seed: 42 }));

    const started = events[0]?.event;
    expect(started?.$case).toBe('started');
    const requestId = started?.$case === 'started' ? started.started.requestId : '';
    const chunks = events.flatMap((e) => (e.event?.$case === 'chunk' ? [e.event.chunk] : []));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(
      chunks
        .map((c) => c.text)
        .join('')
        .split(' '),
    ).toHaveLength(24);
    const finished = events.at(-1)?.event;
    expect(finished?.$case === 'finished' && finished.finished).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, usage: { outputTokens: 24 } });

    const ledger = await waitFor('ledger transaction', async () => {
      const rows = await system.sql<{ n: string; debits: string; credits: string; entries: string }[]>`
        SELECT count(DISTINCT t.id) AS n,
               sum(e.amount_micros) FILTER (WHERE e.side = 'debit') AS debits,
               sum(e.amount_micros) FILTER (WHERE e.side = 'credit') AS credits,
               count(e.id) AS entries
          FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
         WHERE t.request_id = ${requestId}`;
      return Number(rows[0]?.n) > 0 ? rows[0] : undefined;
    });
    expect(Number(ledger.n)).toBe(1);
    expect(Number(ledger.entries)).toBe(2);
    expect(Number(ledger.debits)).toBeGreaterThan(0);
    expect(ledger.debits).toBe(ledger.credits);
    expect(await subjectCount(streams.LIFECYCLE.name, 'requests.completed.acme')).toBe(1);

    const state = await waitFor('request state', async () => {
      const r = await client.getRequest(requestId);
      return r.state === RequestState.REQUEST_STATE_COMPLETED ? r : undefined;
    });
    expect(state.usage?.outputTokens).toBe(24);

    const balance = await client.getBalance();
    expect(balance.balances).toEqual([{ account: 'tenant:acme:receivable', balanceMicros: Number(ledger.debits) }]);
  });

  it('Complete returns the same text the stream would for the same seed', async () => {
    const streamed = await collect(client.generate({ model: 'llama-3.1-8b', prompt: 'same', maxTokens: 9, seed: 7 }));
    const text = streamed.flatMap((e) => (e.event?.$case === 'chunk' ? [e.event.chunk.text] : [])).join('');
    const unary = await client.complete({ model: 'llama-3.1-8b', prompt: 'same', maxTokens: 9, seed: 7 });
    expect(unary.text).toBe(text);
    expect(unary.outcome).toBe(Outcome.OUTCOME_COMPLETED);
  });

  it('ends a Complete at its stop sequence with finish reason "stop", and Generate reports the same', async () => {
    const full = await client.complete({ model: 'llama-3.1-8b', prompt: 'stop me', maxTokens: 20, seed: 12 });
    expect(full.finishReason).toBe('length');
    const stop = ` ${full.text.split(' ')[5]}`;
    const stopped = await client.complete({ model: 'llama-3.1-8b', prompt: 'stop me', maxTokens: 20, seed: 12, stop: [stop] });
    expect(stopped).toMatchObject({ text: full.text.slice(0, full.text.indexOf(stop)), finishReason: 'stop' });
    expect(stopped.usage!.outputTokens).toBeLessThan(20);
    const streamed = await collect(client.generate({ model: 'llama-3.1-8b', prompt: 'stop me', maxTokens: 20, seed: 12, stop: [stop] }));
    const finished = streamed.find((e) => e.event?.$case === 'finished');
    expect(finished?.event).toMatchObject({ finished: { finishReason: 'stop', usage: { outputTokens: stopped.usage!.outputTokens } } });
  });

  it('refuses a wrong API key with UNAUTHENTICATED and publishes nothing', async () => {
    const before = (await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages;
    const intruder = createSwitchyardClient({ address: system.admissionAddress, apiKey: 'sy_not-a-real-key' });
    const error = await collect(intruder.generate({ model: 'llama-3.1-8b', prompt: 'let me in' })).catch((e: ServiceError) => e);
    intruder.close();
    expect(error).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('invalid or revoked API key') });
    const after = (await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages;
    expect(after).toBe(before);
  });

  it('refuses an unknown model with NOT_FOUND naming the models served, before publishing anything', async () => {
    const before = (await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages;
    const error = await client.complete({ model: 'gpt-unknown', prompt: 'hi', maxTokens: 4 }).catch((e: ServiceError) => e);
    expect(error).toMatchObject({ code: status.NOT_FOUND, details: expect.stringContaining('the model "gpt-unknown" does not exist') });
    expect((error as ServiceError).details).toContain('llama-3.1-8b');
    expect((await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages).toBe(before);
    expect(await subjectCount(streams.LIFECYCLE.name, 'requests.rejected.acme')).toBe(0);
  });

  it('scopes billing reads to the caller: another tenant gets PERMISSION_DENIED', async () => {
    const other = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.otherApiKey, billingAddress: system.billingAddress });
    const error = await other.getBalance('acme').catch((e: ServiceError) => e);
    other.close();
    expect(error).toMatchObject({ code: status.PERMISSION_DENIED });
  });
});
