import { DomainError, type TokenUsage } from '@switchyard/contracts';
import type { ChoiceResult, CompletionMeta } from './openai-format.js';
import { commonCall, usageOf, type CallHeaders, type OpenAiCall, type OpenAiCommonBody } from './openai-request.js';

/** The subset of an OpenAI (legacy) text completion request Switchyard understands. */
export interface TextCompletionBody extends OpenAiCommonBody {
  prompt?: unknown;
  echo?: unknown;
  suffix?: unknown;
  logprobs?: unknown;
  best_of?: unknown;
}

const invalid = (message: string) => new DomainError('INVALID_ARGUMENT', message);

/** The prompt: one string, or an array holding one string; several prompts or token ids are refused by name. */
function promptText(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  if (Array.isArray(prompt) && prompt.length > 1 && prompt.every((p) => typeof p === 'string')) {
    throw invalid(`"prompt" holds ${prompt.length} prompts; send one prompt per request`);
  }
  if (Array.isArray(prompt)) throw invalid('"prompt" as token ids is not served; send the prompt as a string');
  throw invalid('"prompt" is required, as a string');
}

/**
 * Turns an OpenAI text completion request into a call of Switchyard's generation. Options the
 * simulated model cannot honour (`echo`, `suffix`, `logprobs`, `best_of` above 1) are refused
 * rather than ignored.
 */
export function completionToGeneration(body: TextCompletionBody, headers: CallHeaders, nowMs = 0): OpenAiCall {
  if (body.echo === true) throw invalid('"echo" is not served; the prompt is not repeated in the answer');
  if (body.suffix !== undefined && body.suffix !== null && body.suffix !== '') throw invalid('"suffix" (insertion) is not served');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== 0) throw invalid('"logprobs" is not served');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw invalid('"best_of" above 1 is not served; use "n"');
  return commonCall(body, promptText(body.prompt), headers, nowMs);
}

export const textCompletionId = (requestId: string) => `cmpl-${requestId}`;

export function textCompletion(meta: CompletionMeta, choices: readonly ChoiceResult[], usage: TokenUsage) {
  return {
    id: textCompletionId(meta.requestId),
    object: 'text_completion',
    created: meta.createdSec,
    model: meta.model,
    choices: choices.map((c, index) => ({ text: c.text, index, logprobs: null, finish_reason: c.finishReason })),
    usage: usageOf(usage),
  };
}

/** A streamed piece of choice `index`; the last one of each choice carries its `finish_reason`. */
export function textChunk(meta: CompletionMeta, text: string, finishReason: string | null, index = 0) {
  return {
    id: textCompletionId(meta.requestId),
    object: 'text_completion',
    created: meta.createdSec,
    model: meta.model,
    choices: [{ text, index, logprobs: null, finish_reason: finishReason }],
  };
}

/** The chunk `stream_options.include_usage` asks for, as OpenAI sends it for completions. */
export function textUsageChunk(meta: CompletionMeta, usage: TokenUsage) {
  return { id: textCompletionId(meta.requestId), object: 'text_completion', created: meta.createdSec, model: meta.model, choices: [], usage: usageOf(usage) };
}
