import { testRequestSpec } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { attemptTimes, attemptUsage, finishReasonOf } from './attempt-report.js';
import { chatCompletionBody } from './chat-request.js';

const facts = { admittedMs: 1_000, sentMs: 1_010, firstTokenMs: 1_100, endMs: 1_500, promptTokens: 9, countedOutputTokens: 4, gpuMs: 120.4 };

describe('an upstream attempt in Switchyard terms', () => {
  it("bills the upstream's usage when it reports one, else the counted tokens", () => {
    expect(attemptUsage({ ...facts, upstreamUsage: { promptTokens: 12, completionTokens: 6, cachedPromptTokens: 4 } })).toEqual({
      inputTokens: 12,
      cachedInputTokens: 4,
      outputTokens: 6,
    });
    expect(attemptUsage(facts)).toEqual({ inputTokens: 9, cachedInputTokens: 0, outputTokens: 4 });
    expect(attemptTimes(facts)).toEqual({ queueMs: 10, ttftMs: 100, totalMs: 500, gpuMs: 120 });
    expect(finishReasonOf('length')).toBe('length');
    expect(finishReasonOf('stop')).toBe('stop');
  });

  it('asks for a stream with usage under the upstream model name', () => {
    const request = testRequestSpec('r1', { prompt: 'hello', maxTokens: 5, stop: ['\n'] });
    expect(chatCompletionBody(request, 'llama-3.1-8b', { upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct' })).toMatchObject({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      stop: ['\n'],
    });
    expect(chatCompletionBody(request, 'llama-3.1-8b', {}).model).toBe('llama-3.1-8b');
  });
});
