import { Tier } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { encodePrompt } from '@switchyard/tokenizer';
import { buildCatalog } from './model-catalog.js';
import { validateGeneration as validate, validateRequestId, type GenerationInput, type GenerationLimits } from './validate.js';

const models = buildCatalog(new Map([['llama-3.1-8b', 0]]), new Map());
const validateGeneration = (input: GenerationInput, limits: GenerationLimits) => validate(input, limits, encodePrompt, models);

const limits = { maxPromptTokens: 100, maxOutputTokens: 512, defaultMaxTokens: 64 };
const input: GenerationInput = {
  model: 'llama-3.1-8b',
  prompt: 'hello',
  maxTokens: 0,
  tier: Tier.TIER_UNSPECIFIED,
  idempotencyKey: '',
  feature: '',
  seed: 0,
  stop: [],
};

describe('validateGeneration', () => {
  it('fills defaults: realtime tier, default max_tokens, default feature', () => {
    const p = validateGeneration(input, limits);
    expect(p).toMatchObject({ tierName: 'realtime', maxTokens: 64, feature: 'default', promptTokens: 2 });
  });

  it('refuses oversize prompts and max_tokens with the limit in the message', () => {
    // "word" + 98 x " word" + <|begin_of_text|> is 100 tokens by the Llama 3 tokenizer (chars / 4 said 124).
    const hundred = `word${' word'.repeat(98)}`;
    expect(validateGeneration({ ...input, prompt: hundred }, limits).promptTokens).toBe(100);
    expect(() => validateGeneration({ ...input, prompt: `${hundred} word` }, limits)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/more than 100 tokens, the limit/), reason: 'context_length_exceeded' }),
    );
    expect(() => validateGeneration({ ...input, maxTokens: 513 }, limits)).toThrow(/above the limit of 512/);
  });

  it('refuses a model the catalog does not hold as NOT_FOUND model_not_found, before counting the prompt', () => {
    const tooLong = 'word '.repeat(500);
    expect(() => validateGeneration({ ...input, model: 'gpt-4o', prompt: tooLong }, limits)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', reason: 'model_not_found', message: expect.stringContaining('"gpt-4o" does not exist') }),
    );
  });

  it('says a model is required only when none was sent, and what a name may hold when it has other characters', () => {
    expect(() => validateGeneration({ ...input, model: '' }, limits)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model is required/) }),
    );
    expect(() => validateGeneration({ ...input, model: 'Llama 3\u0000' }, limits)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^model must be a model name of up to 64 lower-case letters/) }),
    );
  });

  it('takes up to 4 stop sequences of 1 to 256 characters, and a user of up to 256', () => {
    expect(validateGeneration({ ...input, stop: ['\n', 'END'], user: 'u-1' }, limits)).toMatchObject({ stop: ['\n', 'END'], user: 'u-1' });
    expect(() => validateGeneration({ ...input, stop: ['a', 'b', 'c', 'd', 'e'] }, limits)).toThrow(/up to 4 sequences, got 5/);
    expect(() => validateGeneration({ ...input, stop: [''] }, limits)).toThrow(/1 to 256 characters/);
    expect(() => validateGeneration({ ...input, user: 'u'.repeat(257) }, limits)).toThrow(/user may be up to 256 characters/);
  });

  it('refuses an empty model or prompt as INVALID_ARGUMENT', () => {
    expect(() => validateGeneration({ ...input, model: '' }, limits)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => validateGeneration({ ...input, prompt: '' }, limits)).toThrow(/prompt is empty/);
  });

  it('refuses a seed that is negative, fractional or past 2^53-1, and accepts the largest safe one', () => {
    for (const seed of [-1, 1.5, 2 ** 64, Number.NaN]) {
      expect(() => validateGeneration({ ...input, seed }, limits)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/seed must be an integer/) }),
      );
    }
    expect(validateGeneration({ ...input, seed: Number.MAX_SAFE_INTEGER }, limits).seed).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('validateRequestId', () => {
  it('accepts the ids admission hands out', () => {
    expect(validateRequestId('req_0123456789abcdef0123456789abcdef')).toBe('req_0123456789abcdef0123456789abcdef');
  });

  it('refuses an oversize or odd id without echoing it', () => {
    for (const id of ['x'.repeat(100_000), '', 'req_', 'req_../../etc', `req_${'a'.repeat(65)}`]) {
      const refusal = (() => {
        try {
          return validateRequestId(id);
        } catch (e) {
          return e as Error & { code: string };
        }
      })();
      expect(refusal).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((refusal as Error).message.length).toBeLessThan(200);
    }
  });
});
