import type { FastifyInstance, FastifyRequest } from 'fastify';
import { header, type HttpRouteContext } from './http-context.js';
import { serveCall } from './http-call.js';
import { completionToGeneration, textChunk, textCompletion, textUsageChunk, type TextCompletionBody } from './domain/openai-completions.js';
import { chatChunk, chatCompletion, chatToGeneration, chatUsageChunk, type ChatCompletionBody } from './domain/openai-format.js';
import type { CallHeaders } from './domain/openai-request.js';

/** Switchyard's headers on an OpenAI call: tier, idempotency key, feature tag, timeout and what a disconnect does. */
const callHeaders = (req: FastifyRequest): CallHeaders => ({
  tier: header(req.headers['x-switchyard-tier']),
  idempotencyKey: header(req.headers['idempotency-key']),
  feature: header(req.headers['x-switchyard-feature']),
  timeoutMs: header(req.headers['x-switchyard-timeout-ms']),
  onDisconnect: header(req.headers['x-switchyard-on-disconnect']),
});

/** `POST /v1/chat/completions` and `POST /v1/completions`, JSON or SSE. */
export function registerGenerationRoutes(app: FastifyInstance, context: HttpRouteContext): void {
  const now = () => context.deps.generation.now();

  app.post('/v1/chat/completions', { onRequest: context.authenticate }, async (req, reply) =>
    serveCall(context, req, reply, () => chatToGeneration((req.body ?? {}) as ChatCompletionBody, callHeaders(req), now()), {
      whole: chatCompletion,
      opening: (meta, index) => chatChunk(meta, { role: 'assistant', content: '' }, null, index),
      piece: (meta, text, index) => chatChunk(meta, { content: text }, null, index),
      closing: (meta, finishReason, index) => chatChunk(meta, {}, finishReason, index),
      usage: chatUsageChunk,
    }),
  );

  app.post('/v1/completions', { onRequest: context.authenticate }, async (req, reply) =>
    serveCall(context, req, reply, () => completionToGeneration((req.body ?? {}) as TextCompletionBody, callHeaders(req), now()), {
      whole: textCompletion,
      piece: (meta, text, index) => textChunk(meta, text, null, index),
      closing: (meta, finishReason, index) => textChunk(meta, '', finishReason, index),
      usage: textUsageChunk,
    }),
  );
}
