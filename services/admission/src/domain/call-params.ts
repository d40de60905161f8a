import type { Principal } from '@switchyard/auth';
import type { PromptEncoder } from '@switchyard/tokenizer';
import type { ModelCatalog } from './model-catalog.js';
import { validateGeneration, type GenerationInput, type GenerationLimits } from './validate.js';

/**
 * The validated parameters of a Generate/Complete call, over gRPC or HTTP alike: a key's
 * feature tag wins over the body's, so a key scoped to a feature cannot bill another.
 */
export function callParams(limits: GenerationLimits, encodePrompt: PromptEncoder, models: ModelCatalog, principal: Principal, body: GenerationInput) {
  return validateGeneration({ ...body, feature: principal.feature || body.feature }, limits, encodePrompt, models);
}
