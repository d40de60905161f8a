import Fastify, { type FastifyInstance } from 'fastify';
import type { Keyring } from '@switchyard/auth';
import { isDomainError } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { runGeneration, type GenerationDeps } from './generation.js';
import { prepareCall } from './grpc.js';
import { chatChunk, chatCompletion, chatToGeneration, openAiError, type ChatCompletionBody, type CompletionMeta } from './openai-format.js';
import type { GenerationLimits } from './validate.js';

export interface HttpFacadeDeps {
  readonly generation: GenerationDeps;
  readonly keyring: Keyring;
  readonly limits: GenerationLimits;
  readonly logger: Logger;
  /** Model names `/v1/models` lists. */
  readonly models: readonly string[];
  /** Largest request body accepted. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * An OpenAI-compatible HTTP facade over the same generation path as gRPC, so the official
 * OpenAI SDKs work unchanged: `/v1/chat/completions` (JSON or SSE) and `/v1/models`.
 */
export function createHttpFacade(deps: HttpFacadeDeps): FastifyInstance {
  const app = Fastify({ bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024, logger: false });

  const sendError = (reply: { status(n: number): { header(k: string, v: string): { send(b: unknown): unknown } } }, e: unknown) => {
    if (!isDomainError(e)) deps.logger.error({ err: e }, 'http request failed');
    const { status, body } = isDomainError(e) ? openAiError(e.code, e.message) : openAiError('INTERNAL', 'internal error');
    const retry = isDomainError(e) && e.retryAfterMs !== undefined ? String(Math.ceil(e.retryAfterMs / 1000)) : '';
    return reply.status(status).header('retry-after', retry).send(body);
  };

  app.setErrorHandler((error: { statusCode?: number; message: string }, _req, reply) => {
    // Fastify's own refusals (body too large, bad JSON) keep their status, in OpenAI's shape.
    const status = error.statusCode ?? 500;
    void reply.status(status).send({ error: { message: error.message, type: status < 500 ? 'invalid_request_error' : 'api_error', code: null, param: null } });
  });

  app.get('/v1/models', async (req, reply) => {
    try {
      deps.keyring.authenticate(header(req.headers.authorization));
      return { object: 'list', data: deps.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'switchyard' })) };
    } catch (e) {
      return sendError(reply, e);
    }
  });

  app.post('/v1/chat/completions', async (req, reply) => {
    const abort = new AbortController();
    req.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    let meta: CompletionMeta | undefined;
    try {
      const input = chatToGeneration((req.body ?? {}) as ChatCompletionBody, { tier: header(req.headers['x-switchyard-tier']), idempotencyKey: header(req.headers['idempotency-key']) });
      const { principal, params } = prepareCall(deps, header(req.headers.authorization), { ...input });
      const createdSec = Math.floor(deps.generation.now() / 1000);
      if (!input.stream) {
        const parts: string[] = [];
        const result = await runGeneration(deps.generation, principal, params, {
          onStarted: (requestId) => (meta = { requestId, model: params.model, createdSec }),
          onChunk: (text) => void parts.push(text),
          signal: abort.signal,
          deadlineUnixMs: 0,
          idempotencyKey: input.idempotencyKey,
        });
        return chatCompletion(meta!, parts.join(''), result.usage, result.finishReason);
      }
      const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
      const result = await runGeneration(deps.generation, principal, params, {
        onStarted: (requestId) => {
          meta = { requestId, model: params.model, createdSec };
          reply.hijack();
          reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': requestId });
          send(chatChunk(meta, { role: 'assistant', content: '' }, null));
        },
        onChunk: (text) => send(chatChunk(meta!, { content: text }, null)),
        signal: abort.signal,
        deadlineUnixMs: 0,
        idempotencyKey: input.idempotencyKey,
      });
      send(chatChunk(meta!, {}, result.finishReason, result.usage));
      reply.raw.end('data: [DONE]\n\n');
    } catch (e) {
      if (!reply.sent && !reply.raw.headersSent) return sendError(reply, e);
      // Headers are gone: end the stream with an error event, never a silent [DONE].
      const { body } = isDomainError(e) ? openAiError(e.code, e.message) : openAiError('INTERNAL', 'internal error');
      reply.raw.end(`data: ${JSON.stringify(body)}\n\n`);
    }
  });

  return app;
}
