import { describe, expect, it } from 'vitest';
import { refusal } from './refusal.fixture.js';
import { completionToGeneration, textChunk, textCompletion } from './openai-completions.js';

const body = { model: 'llama-3.1-8b', prompt: 'Once upon a time' };

describe('completionToGeneration', () => {
  it('takes the prompt as a string or an array of one string', () => {
    expect(completionToGeneration(body, {}).input.prompt).toBe('Once upon a time');
    expect(completionToGeneration({ ...body, prompt: ['one'] }, {}).input.prompt).toBe('one');
  });

  it('refuses what it cannot serve, by name', () => {
    expect(refusal(() => completionToGeneration({ ...body, prompt: ['a', 'b'] }, {}))).toMatchObject({
      message: '"prompt" holds 2 prompts; send one prompt per request',
    });
    expect(refusal(() => completionToGeneration({ ...body, prompt: [1, 2] }, {}))).toMatchObject({ message: expect.stringContaining('token ids') });
    expect(refusal(() => completionToGeneration({ ...body, echo: true }, {}))).toMatchObject({ message: expect.stringContaining('"echo"') });
    expect(refusal(() => completionToGeneration({ ...body, suffix: 'end' }, {}))).toMatchObject({ message: expect.stringContaining('"suffix"') });
    expect(refusal(() => completionToGeneration({ ...body, logprobs: 2 }, {}))).toMatchObject({ message: expect.stringContaining('"logprobs"') });
    expect(refusal(() => completionToGeneration({ ...body, best_of: 3 }, {}))).toMatchObject({ message: expect.stringContaining('"best_of"') });
    expect(refusal(() => completionToGeneration({ model: 'm' }, {}))).toMatchObject({ message: '"prompt" is required, as a string' });
  });
});

describe('text completion answers', () => {
  const meta = { requestId: 'req_9', model: 'llama-3.1-8b', createdSec: 5 };
  it('are text_completion objects with cmpl- ids', () => {
    const answer = textCompletion(meta, [{ text: 'the end', finishReason: 'stop' }], { inputTokens: 4, cachedInputTokens: 0, outputTokens: 2 });
    expect(answer).toMatchObject({ id: 'cmpl-req_9', object: 'text_completion', choices: [{ text: 'the end', index: 0, finish_reason: 'stop' }] });
    expect(textChunk(meta, ' more', null)).toMatchObject({ object: 'text_completion', choices: [{ text: ' more', finish_reason: null }] });
  });
});
