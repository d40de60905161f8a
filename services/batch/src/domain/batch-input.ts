/** Endpoints a batch may target, as OpenAI names them. */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

export const isBatchEndpoint = (v: unknown): v is BatchEndpoint => (BATCH_ENDPOINTS as readonly unknown[]).includes(v);

export interface BatchInputLimits {
  /** Largest request body of one line, in bytes. */
  readonly maxBodyBytes: number;
  /** Longest `custom_id`, in characters. */
  readonly maxCustomIdLength: number;
}

/** A line that can run: its `custom_id` and the request body to send to `endpoint`. */
export interface BatchRequestLine {
  readonly ok: true;
  readonly customId: string;
  /** The body as sent upstream (JSON text). */
  readonly body: string;
}

/** A line that cannot run, with what to tell the person who wrote it. */
export interface BatchLineError {
  readonly ok: false;
  /** The line's `custom_id` when it had a usable one, so the error file can name it. */
  readonly customId: string | null;
  readonly code: 'invalid_json' | 'invalid_request' | 'wrong_endpoint' | 'body_too_large';
  readonly message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks one line of a batch input file: a JSON object with a `custom_id`, `method: "POST"`,
 * the batch's `url` and a `body` object that does not ask to stream. Whether the body itself
 * is a valid request (model, messages) is for admission to say when it runs, exactly as for
 * a direct call; its answer lands in the error file under the line's `custom_id`.
 */
export function parseBatchLine(text: string, endpoint: BatchEndpoint, limits: BatchInputLimits): BatchRequestLine | BatchLineError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, customId: null, code: 'invalid_json', message: `not valid JSON: ${(e as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, customId: null, code: 'invalid_json', message: 'each line must be a JSON object' };
  const rawId = value.custom_id;
  if (typeof rawId !== 'string' || rawId.length === 0) {
    return { ok: false, customId: null, code: 'invalid_request', message: 'missing "custom_id": each line needs a non-empty string custom_id' };
  }
  if (rawId.length > limits.maxCustomIdLength) {
    return { ok: false, customId: null, code: 'invalid_request', message: `"custom_id" is longer than ${limits.maxCustomIdLength} characters` };
  }
  const fail = (code: BatchLineError['code'], message: string): BatchLineError => ({ ok: false, customId: rawId, code, message });
  if (value.method !== 'POST') return fail('invalid_request', `"method" must be "POST", got ${JSON.stringify(value.method ?? null)}`);
  if (value.url !== endpoint) {
    return fail('wrong_endpoint', `"url" is ${JSON.stringify(value.url ?? null)} but this batch runs ${endpoint}; one batch serves one endpoint`);
  }
  if (!isObject(value.body)) return fail('invalid_request', '"body" must be a JSON object: the request to send');
  if (value.body.stream === true) return fail('invalid_request', '"stream": true is not supported in a batch; results are written whole to the output file');
  const body = JSON.stringify(value.body);
  const size = Buffer.byteLength(body);
  if (size > limits.maxBodyBytes) return fail('body_too_large', `"body" is ${size} bytes; the limit is ${limits.maxBodyBytes} bytes per request`);
  return { ok: true, customId: rawId, body };
}
