import { startEngineSimulatorProcess, type EngineSimulatorProcess } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { chatBody, post, readCompletionStream, scrape } from './openai-client.fixture.js';

let engine: EngineSimulatorProcess | undefined;
afterEach(async () => {
  await engine?.kill();
  engine = undefined;
});

describe('engine simulator process (engine-main.ts)', () => {
  it('serves a streamed completion, takes faults at runtime, and exits 0 on SIGTERM', async () => {
    engine = await startEngineSimulatorProcess({ model: 'llama-3.2-1b', apiKey: 'sk-test' });
    const auth = { headers: { authorization: 'Bearer sk-test' } };
    const s = await readCompletionStream(`${engine.baseUrl}/chat/completions`, chatBody({ max_tokens: 8 }), auth);
    expect(s.status).toBe(200);
    expect(s.pieces).toHaveLength(8);
    expect(s.usage?.completion_tokens).toBe(8);
    expect(s.done).toBe(true);
    expect(await scrape(engine.metricsUrl, 'vllm:request_success_total{model_name="llama-3.2-1b",finished_reason="length"}')).toBe(1);

    await engine.setFaults({ status: 429, retryAfterS: 3 });
    const limited = await post(`${engine.baseUrl}/chat/completions`, chatBody(), auth);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    await engine.clearFaults();
    expect((await readCompletionStream(`${engine.baseUrl}/chat/completions`, chatBody({ max_tokens: 2 }), auth)).done).toBe(true);

    expect(await engine.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
