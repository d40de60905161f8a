import type { BatchEndpoint } from './domain/batch-input.js';

export interface AdmissionCall {
  readonly endpoint: BatchEndpoint;
  /** The request body, JSON text, as the batch line gave it. */
  readonly body: string;
  readonly tenant: string;
  readonly feature: string;
  /** Same key, same request: a repeat (a job run again after a crash) joins the first, never runs twice. */
  readonly idempotencyKey: string;
  readonly signal?: AbortSignal;
}

/** What admission answered: the HTTP status and body, or that it could not be reached. */
export type AdmissionAnswer =
  | { readonly kind: 'answered'; readonly status: number; readonly requestId: string; readonly body: unknown; readonly retryAfterMs?: number }
  | { readonly kind: 'unreachable'; readonly message: string };

export interface AdmissionClientOptions {
  /** Admission's OpenAI facade, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** An operator key: it lets the batch service act for the tenant that submitted the batch. */
  readonly apiKey: string;
  /** Longest wait for one request. Default 10 min. */
  readonly timeoutMs?: number;
}

/**
 * Sends batch lines through admission's OpenAI facade, exactly as a direct call would go:
 * the same validation, policy, rate limits, budget and answer format, at tier `batch` (and
 * so at the batch price), for the tenant and feature of the batch.
 */
export function createAdmissionClient(options: AdmissionClientOptions) {
  const timeoutMs = options.timeoutMs ?? 600_000;
  return async function call(c: AdmissionCall): Promise<AdmissionAnswer> {
    const signal = c.signal ? AbortSignal.any([c.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${options.baseUrl}${c.endpoint}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          'content-type': 'application/json',
          'x-switchyard-tenant': c.tenant,
          'x-switchyard-tier': 'batch',
          'idempotency-key': c.idempotencyKey,
          // A crash of this process must not cancel the line: its retry collects the result.
          'x-switchyard-on-disconnect': 'finish',
          ...(c.feature ? { 'x-switchyard-feature': c.feature } : {}),
        },
        body: c.body,
        signal,
      });
    } catch (e) {
      return { kind: 'unreachable', message: (e as Error).message };
    }
    const text = await res.text().catch(() => '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's page): kept as text for the error file.
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    const id = (body as { id?: unknown } | null)?.id;
    return {
      kind: 'answered',
      status: res.status,
      requestId: res.headers.get('x-request-id') ?? (typeof id === 'string' ? id : ''),
      body,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    };
  };
}

export type AdmissionClient = ReturnType<typeof createAdmissionClient>;
