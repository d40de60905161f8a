/** An error answer in the shape OpenAI clients (and vLLM's server) send: status plus `{ error }`. */
export interface OpenAiErrorReply {
  readonly status: number;
  readonly body: { readonly error: { readonly message: string; readonly type: string; readonly code: string; readonly param: string | null } };
}

const typeOf = (status: number) =>
  status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';

/** Builds an error reply; `param` names the request field at fault, when one is. */
export function openAiErrorReply(status: number, code: string, message: string, param: string | null = null): OpenAiErrorReply {
  return { status, body: { error: { message, type: typeOf(status), code, param } } };
}
