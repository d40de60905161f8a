import { describe, expect, it } from 'vitest';
import { createSseParser, parseStreamData } from './sse.js';

describe('server-sent events of a chat completion', () => {
  it('joins events split across reads and skips comments', () => {
    const p = createSseParser();
    expect(p.feed(': keep-alive\n\ndata: {"a"')).toEqual([]);
    expect(p.feed(':1}\r\n\r\ndata: [DONE]\n\n')).toEqual(['{"a":1}', '[DONE]']);
  });

  it('reads text, finish reason and usage, and reports error events and garbage as errors', () => {
    expect(parseStreamData('{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}')).toEqual([{ type: 'delta', text: 'Hi' }]);
    expect(
      parseStreamData(
        '{"choices":[{"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}',
      ),
    ).toEqual([
      { type: 'delta', text: '', finishReason: 'length' },
      { type: 'usage', usage: { promptTokens: 7, completionTokens: 3, cachedPromptTokens: 2 } },
    ]);
    expect(parseStreamData('[DONE]')).toEqual([{ type: 'done' }]);
    expect(parseStreamData('{"error":{"message":"engine overloaded"}}')).toEqual([{ type: 'error', message: 'engine overloaded' }]);
    expect(parseStreamData('nope')[0]!.type).toBe('error');
  });
});
