import { Tier } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { validateGeneration, type GenerationInput } from './validate.js';

const limits = { maxPromptTokens: 100, maxOutputTokens: 512, defaultMaxTokens: 64 };
const input: GenerationInput = { model: 'llama-3.1-8b', prompt: 'hello', maxTokens: 0, tier: Tier.TIER_UNSPECIFIED, idempotencyKey: '', feature: '', seed: 0 };

describe('validateGeneration', () => {
  it('fills defaults: realtime tier, default max_tokens, default feature', () => {
    const p = validateGeneration(input, limits);
    expect(p).toMatchObject({ tierName: 'realtime', maxTokens: 64, feature: 'default', promptTokens: 2 });
  });

  it('refuses oversize prompts and max_tokens with the limit in the message', () => {
    expect(() => validateGeneration({ ...input, prompt: 'x'.repeat(401) }, limits)).toThrow(/about 101 tokens; the limit is 100/);
    expect(() => validateGeneration({ ...input, maxTokens: 513 }, limits)).toThrow(/above the limit of 512/);
  });

  it('refuses an empty model or prompt as INVALID_ARGUMENT', () => {
    expect(() => validateGeneration({ ...input, model: '' }, limits)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => validateGeneration({ ...input, prompt: '' }, limits)).toThrow(/prompt is empty/);
  });
});
