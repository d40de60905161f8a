import type { EndpointSpec } from '@switchyard/config';
import type { RequestSpec } from '@switchyard/contracts';

/** The body of an OpenAI `POST /chat/completions` that streams and reports usage at the end. */
export interface ChatCompletionBody {
  readonly model: string;
  readonly messages: ReadonlyArray<{ readonly role: 'user'; readonly content: string }>;
  readonly max_tokens: number;
  readonly stream: true;
  readonly stream_options: { readonly include_usage: true };
  readonly seed: number;
  readonly stop?: readonly string[];
}

/**
 * What the upstream is asked for one admitted request: the pool's model under the name the
 * upstream knows it by (`endpoint.upstreamModel`, default the pool's model id), the prompt as
 * one user message, the caller's max_tokens, stop sequences and seed.
 */
export function chatCompletionBody(request: RequestSpec, poolModel: string, endpoint: Pick<EndpointSpec, 'upstreamModel'>): ChatCompletionBody {
  return {
    model: endpoint.upstreamModel ?? poolModel,
    messages: [{ role: 'user', content: request.prompt }],
    max_tokens: request.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    seed: request.seed,
    ...(request.stop.length > 0 ? { stop: request.stop } : {}),
  };
}
