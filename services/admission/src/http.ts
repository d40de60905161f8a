import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ACT_FOR_TENANT_HEADER, actFor, type Keyring, type Principal } from '@switchyard/auth';
import { isDomainError } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { forwardBatchApi } from './batch-forward.js';
import { runGeneration, type GenerationDeps } from './generation.js';
import { callParams } from './domain/call-params.js';
import {
  chatChunk,
  chatCompletion,
  chatToGeneration,
  clientErrorRefusal,
  httpRefusal,
  openAiError,
  type ChatCompletionBody,
  type CompletionMeta,
} from './domain/openai-format.js';
import type { GenerationLimits } from './domain/validate.js';
import type { PromptTokenCounter } from '@switchyard/tokenizer';

export interface HttpFacadeDeps {
  readonly generation: GenerationDeps;
  readonly keyring: Keyring;
  readonly limits: GenerationLimits;
  /** Llama 3 prompt-token counter (`countPromptTokens`). */
  readonly countTokens: PromptTokenCounter;
  readonly logger: Logger;
  /** Model names `/v1/models` lists. */
  readonly models: () => readonly string[];
  /** The batch service's Files and Batches API; undefined turns `/v1/files` and `/v1/batches` off. */
  readonly batchApi?: URL;
  /** Largest request body accepted. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Answers a request node's HTTP parser refused (headers too large, Content-Length and body
 * that disagree, garbage), in OpenAI's error shape like every other answer; Fastify's own
 * answer is a different JSON. The connection closes after it, as node's parser cannot go on.
 */
function refuseMalformed(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = clientErrorRefusal(error.code);
  const body = JSON.stringify(httpRefusal(status, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * An OpenAI-compatible HTTP facade over the same generation path as gRPC, so the official
 * OpenAI SDKs work unchanged: `/v1/chat/completions` (JSON or SSE) and `/v1/models`.
 */
export function createHttpFacade(deps: HttpFacadeDeps): FastifyInstance {
  const app = Fastify({ bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024, logger: false, clientErrorHandler: refuseMalformed });
  const principals = new WeakMap<FastifyRequest, Principal>();

  const sendError = (reply: FastifyReply, e: unknown) => {
    if (!isDomainError(e)) deps.logger.error({ err: e }, 'http request failed');
    const { status, body } = isDomainError(e) ? openAiError(e.code, e.message) : openAiError('INTERNAL', 'internal error');
    const retry = isDomainError(e) && e.retryAfterMs !== undefined ? String(Math.ceil(e.retryAfterMs / 1000)) : '';
    // The OpenAI SDKs retry every 5xx unless told not to: an answer that a retry would pay for
    // again (a lost token stream) says so.
    if (isDomainError(e) && !e.retryable && status >= 500) void reply.header('x-should-retry', 'false');
    return reply.status(status).header('retry-after', retry).send(body);
  };

  // onRequest runs before Fastify reads the body: a caller without a valid key learns
  // nothing about what a body should hold, and its body is never parsed.
  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      principals.set(req, actFor(deps.keyring.authenticate(header(req.headers.authorization)), header(req.headers[ACT_FOR_TENANT_HEADER])));
    } catch (e) {
      return sendError(reply, e);
    }
  };

  app.setErrorHandler((error: { statusCode?: number; message: string }, _req, reply) => {
    // Fastify's own refusals (body too large, bad JSON) keep their status, in OpenAI's shape.
    const status = error.statusCode ?? 500;
    void reply.status(status).send(httpRefusal(status, error.message));
  });

  forwardBatchApi(app, deps.batchApi, deps.logger);

  app.setNotFoundHandler((_req, reply) => {
    void reply.status(404).send(httpRefusal(404, 'no such route: this server serves POST /v1/chat/completions and GET /v1/models'));
  });

  app.get('/v1/models', { onRequest: authenticate }, async () => ({
    object: 'list',
    data: deps.models().map((id) => ({ id, object: 'model', created: 0, owned_by: 'switchyard' })),
  }));

  app.post('/v1/chat/completions', { onRequest: authenticate }, async (req, reply) => {
    const abort = new AbortController();
    // The response's 'close', not the request's: a request closes once its body is read, which
    // cancelled every call at once. A response closes unfinished only when the client left.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    let meta: CompletionMeta | undefined;
    try {
      const principal = principals.get(req)!;
      const input = chatToGeneration((req.body ?? {}) as ChatCompletionBody, {
        tier: header(req.headers['x-switchyard-tier']),
        idempotencyKey: header(req.headers['idempotency-key']),
      });
      const params = callParams(deps.limits, deps.countTokens, principal, input);
      const createdSec = Math.floor(deps.generation.now() / 1000);
      if (!input.stream) {
        const parts: string[] = [];
        const result = await runGeneration(deps.generation, principal, params, {
          onStarted: (requestId) => {
            meta = { requestId, model: params.model, createdSec };
            void reply.header('x-request-id', requestId);
          },
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
      // Headers are gone: end the stream with an error event, never a silent [DONE]; a client
      // that left gets nothing.
      if (reply.raw.destroyed) return;
      const { body } = isDomainError(e) ? openAiError(e.code, e.message) : openAiError('INTERNAL', 'internal error');
      reply.raw.end(`data: ${JSON.stringify(body)}\n\n`);
    }
  });

  return app;
}
