import type { Principal } from '@switchyard/auth';
import type { GenerateRequest } from '@switchyard/contracts';
import type { PromptTokenCounter } from '@switchyard/tokenizer';
import { validateGeneration, type GenerationLimits } from './validate.js';

/**
 * The validated parameters of a Generate/Complete call, over gRPC or HTTP alike: a key's
 * feature tag wins over the body's, so a key scoped to a feature cannot bill another.
 */
export function callParams(limits: GenerationLimits, countTokens: PromptTokenCounter, principal: Principal, body: GenerateRequest) {
  return validateGeneration({ ...body, feature: principal.feature || body.feature }, limits, countTokens);
}
