import { Tier } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { countPromptTokens } from '@switchyard/tokenizer';
import { validateGeneration as validate, validateRequestId, type GenerationInput, type GenerationLimits } from './validate.js';

const validateGeneration = (input: GenerationInput, limits: GenerationLimits) => validate(input, limits, countPromptTokens);

const limits = { maxPromptTokens: 100, maxOutputTokens: 512, defaultMaxTokens: 64 };
const input: GenerationInput = { model: 'llama-3.1-8b', prompt: 'hello', maxTokens: 0, tier: Tier.TIER_UNSPECIFIED, idempotencyKey: '', feature: '', seed: 0 };

describe('validateGeneration', () => {
  it('fills defaults: realtime tier, default max_tokens, default feature', () => {
    const p = validateGeneration(input, limits);
    expect(p).toMatchObject({ tierName: 'realtime', maxTokens: 64, feature: 'default', promptTokens: 2 });
  });

  it('refuses oversize prompts and max_tokens with the limit in the message', () => {
    // "word" + 98 x " word" + <|begin_of_text|> is 100 tokens by the Llama 3 tokenizer (chars / 4 said 124).
    const hundred = `word${' word'.repeat(98)}`;
    expect(validateGeneration({ ...input, prompt: hundred }, limits).promptTokens).toBe(100);
    expect(() => validateGeneration({ ...input, prompt: `${hundred} word` }, limits)).toThrow(/more than 100 tokens, the limit/);
    expect(() => validateGeneration({ ...input, maxTokens: 513 }, limits)).toThrow(/above the limit of 512/);
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
