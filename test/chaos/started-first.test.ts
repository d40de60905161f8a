import { createSwitchyardClient, Tier } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #15, item 1: admission records a request in Redis while the request is already on its
 * way, so with a slow Redis the first tokens come back before the call has its `started`
 * message. A caller must never see a chunk first (the SSE writer once threw on it inside the
 * NATS callback and took the process's connection down). Redis is made slow on purpose here:
 * every admission write to it is held 40 ms, while GPU workers answer at once.
 */

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({ admissionRedisLatencyMs: 40 });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

describe('chaos: tokens outrun admission bookkeeping', () => {
  it('gRPC Generate: 100 concurrent streams each begin with started', async () => {
    // Internal tier, as the HTTP case below: 100 realtime calls at once may rightly be shed
    // when the predicted TTFT passes the realtime objective (CI saw 1017 ms against 1000 ms),
    // and shedding is not what this test is about.
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const firstEvents = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const kinds: string[] = [];
        for await (const e of client.generate({ model: 'llama-3.1-8b', prompt: 'race', maxTokens: 16, tier: Tier.TIER_INTERNAL }))
          kinds.push(e.event?.$case ?? '?');
        return kinds;
      }),
    );
    client.close();
    expect(firstEvents.filter((k) => k[0] !== 'started')).toEqual([]);
    expect(firstEvents.every((k) => k.at(-1) === 'finished')).toBe(true);
  });

  it('HTTP streaming: every stream is well formed, and admission keeps serving after the burst', async () => {
    const call = async () => {
      const res = await fetch(`${system.httpUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json', 'x-switchyard-tier': 'internal' },
        body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'race' }], max_tokens: 16, stream: true }),
        signal: AbortSignal.timeout(15_000),
      });
      return (await res.text())
        .split('\n\n')
        .filter((e) => e.startsWith('data: '))
        .map((e) => e.slice(6));
    };
    const streams = await Promise.all(Array.from({ length: 100 }, call));
    for (const events of streams) {
      expect(JSON.parse(events[0]!)).toMatchObject({ choices: [{ delta: { role: 'assistant' } }] });
      expect(events.at(-1)).toBe('[DONE]');
    }
    // The process's NATS connection is intact: another tenant is served at once.
    const other = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.otherApiKey });
    const answer = await other.complete({ model: 'llama-3.1-8b', prompt: 'still there?', maxTokens: 4, timeoutMs: 5_000 });
    expect(answer.outcome).toBeGreaterThan(0);
    other.close();
  });
});
