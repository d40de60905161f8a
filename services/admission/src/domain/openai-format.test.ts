import { describe, expect, it } from 'vitest';
import { refusal } from './refusal.fixture.js';
import { chatChunk, chatCompletion, chatToGeneration, chatUsageChunk } from './openai-format.js';

const body = { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] };

describe('chatToGeneration', () => {
  it('renders messages and takes seed and max_tokens', () => {
    expect(chatToGeneration({ ...body, seed: 7, max_tokens: 5 }, {}).input).toMatchObject({ prompt: 'user: hi', seed: 7, maxTokens: 5 });
    expect(chatToGeneration({ ...body, seed: null }, {}).input.seed).toBe(0);
  });

  it('refuses a message that is not an object as INVALID_ARGUMENT, not a crash', () => {
    for (const m of [null, 3, 'hi']) {
      expect(refusal(() => chatToGeneration({ ...body, messages: [m] }, {}))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'messages[0] must be an object with "role" and "content"',
      });
    }
  });

  it('refuses a seed that is not a number instead of ignoring it', () => {
    expect(refusal(() => chatToGeneration({ ...body, seed: '42' }, {}))).toMatchObject({ code: 'INVALID_ARGUMENT', message: '"seed" must be an integer' });
  });

  it('takes a tool-using history: an assistant turn with tool_calls and content null, then the tool result', () => {
    const messages = [
      { role: 'user', content: 'weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18 C, clear' },
    ];
    expect(chatToGeneration({ ...body, messages }, {}).input.prompt).toBe(
      'user: weather in Paris?\nassistant: [tool calls: get_weather({"city":"Paris"})]\ntool (call_1): 18 C, clear',
    );
    expect(refusal(() => chatToGeneration({ ...body, messages: [{ role: 'tool', content: 'x' }] }, {}))).toMatchObject({
      message: 'messages[0] is a tool result and needs the "tool_call_id" it answers',
    });
    expect(refusal(() => chatToGeneration({ ...body, messages: [{ role: 'assistant', content: null }] }, {}))).toMatchObject({
      message: 'messages[0] needs "content" or "tool_calls"',
    });
  });

  it('joins text parts and refuses a part the model cannot take, naming its type', () => {
    const parts = [
      { type: 'text', text: 'what is ' },
      { type: 'text', text: 'this?' },
    ];
    expect(chatToGeneration({ ...body, messages: [{ role: 'user', content: parts }] }, {}).input.prompt).toBe('user: what is this?');
    const image = [...parts, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }];
    expect(refusal(() => chatToGeneration({ ...body, messages: [{ role: 'user', content: image }] }, {}))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'messages[0].content[2] is a part of type "image_url", which the model "llama-3.1-8b" cannot take; it reads text parts only',
    });
  });

  it('refuses options whose answer the model cannot give, and takes the ones it can', () => {
    expect(refusal(() => chatToGeneration({ ...body, logprobs: true }, {}))).toMatchObject({ message: '"logprobs" is not served' });
    expect(refusal(() => chatToGeneration({ ...body, response_format: { type: 'json_object' } }, {}))).toMatchObject({
      message: '"response_format" other than {"type": "text"} is not served',
    });
    expect(refusal(() => chatToGeneration({ ...body, tool_choice: 'required' }, {}))).toMatchObject({ message: expect.stringContaining('"tool_choice"') });
    expect(refusal(() => chatToGeneration({ ...body, modalities: ['text', 'audio'] }, {}))).toMatchObject({ message: expect.stringContaining('"modalities"') });
    const servable = { ...body, logprobs: false, response_format: { type: 'text' }, tool_choice: 'auto', modalities: ['text'] };
    expect(chatToGeneration(servable, {}).input.prompt).toBe('user: hi');
  });

  it('refuses a role it does not know', () => {
    expect(refusal(() => chatToGeneration({ ...body, messages: [{ role: 'wizard', content: 'x' }] }, {}))).toMatchObject({
      message: expect.stringContaining('messages[0] needs a "role" of system, developer, user, assistant, tool'),
    });
  });
});

describe('chat answers', () => {
  const meta = { requestId: 'req_1', model: 'chat-large', createdSec: 100 };
  const usage = { inputTokens: 10, cachedInputTokens: 0, outputTokens: 6 };

  it('carry every choice with its own finish reason', () => {
    const answer = chatCompletion(
      meta,
      [
        { text: 'a b', finishReason: 'stop' },
        { text: 'c d e', finishReason: 'length' },
      ],
      usage,
    );
    expect(answer.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a b', 'stop'],
      [1, 'c d e', 'length'],
    ]);
    expect(answer.usage).toEqual({ prompt_tokens: 10, completion_tokens: 6, total_tokens: 16, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('stream chunks carry no usage; the usage chunk has no choices', () => {
    expect(chatChunk(meta, {}, 'stop')).not.toHaveProperty('usage');
    expect(chatUsageChunk(meta, usage)).toMatchObject({ choices: [], usage: { total_tokens: 16 }, object: 'chat.completion.chunk' });
  });
});
