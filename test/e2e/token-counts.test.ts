import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { countPromptTokens } from '@switchyard/tokenizer';
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

const billedInputTokens = (requestId: string) =>
  waitFor('ledger transaction', async () => {
    const rows = await system.sql<{ input_tokens: string }[]>`
      SELECT input_tokens FROM ledger_transactions WHERE request_id = ${requestId} AND kind <> 'reversal'`;
    return rows.length > 0 ? rows.map((r) => Number(r.input_tokens)) : undefined;
  });

describe('prompt tokens are counted by the Llama 3 tokenizer, from admission to the ledger', () => {
  it('bills a Complete call the tokenizer count of its prompt, not chars / 4', async () => {
    // 47 characters, so chars / 4 said 12; the tokenizer says 18 (digits go in groups of three).
    const prompt = 'Add 1234567890 to 9876543210 and print the sum.';
    expect(countPromptTokens(prompt)).not.toBe(Math.ceil(prompt.length / 4));
    const done = await client.complete({ model: 'llama-3.1-8b', prompt, maxTokens: 4, seed: 1 });
    expect(done.usage?.inputTokens).toBe(countPromptTokens(prompt));
    expect(await billedInputTokens(done.requestId)).toEqual([countPromptTokens(prompt)]);
  });

  it('bills a chat completion the tokenizer count of the text the model is given', async () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Name three GPUs, 1234567 times.' },
    ];
    // Admission renders chat messages as "role: content" lines; that text is what the model reads.
    const rendered = messages.map((m) => `${m.role}: ${m.content}`).join('\n');
    const res = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${system.apiKey}` },
      body: JSON.stringify({ model: 'llama-3.1-8b', messages, max_tokens: 3 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; usage: { prompt_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(countPromptTokens(rendered));
    expect(await billedInputTokens(body.id.replace(/^chatcmpl-/, ''))).toEqual([countPromptTokens(rendered)]);
  });
});
