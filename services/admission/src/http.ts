import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ACT_FOR_TENANT_HEADER, actFor, type Principal } from '@switchyard/auth';
import { isDomainError } from '@switchyard/contracts';
import { readTlsPair, watchTlsFiles } from '@switchyard/grpc-edge';
import { forwardBatchApi } from './batch-forward.js';
import { DEFAULT_CONNECTION_LIMITS } from './connection-limits.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './domain/json-depth.js';
import { header, type HttpFacadeDeps, type HttpRouteContext } from './http-context.js';
import { registerGenerationRoutes } from './http-generation.js';
import { registerModelRoutes } from './http-models.js';
import { clientErrorRefusal, httpRefusal, openAiError, retryAfterSeconds } from '@switchyard/openai-wire';

export type { HttpFacadeDeps } from './http-context.js';

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
 * Refuses a request body sent with a `content-encoding` (gzip, br, ...) with 415 and the one
 * encoding taken (`accept-encoding: identity`, RFC 7694), before a byte of it is read:
 * inflating it would let a 1 MB body become gigabytes (a gzip bomb), and parsing it
 * compressed answered a misleading "not valid JSON". No OpenAI SDK compresses requests.
 * Runs after the key was checked (the routes' onRequest), like every other refusal of a body.
 */
function refuseEncodedBodies(app: FastifyInstance): void {
  app.addHook('preParsing', async (req, reply, payload) => {
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    const hasBody = (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody || !encoding || encoding === 'identity') return payload;
    // The body is never parsed: node reads and drops it (for at most the request timeout) so the
    // caller, still sending, reads this answer instead of a reset connection.
    void reply.header('accept-encoding', 'identity');
    throw Object.assign(new Error(`content-encoding "${encoding.slice(0, 40)}" is not supported: send the request body uncompressed`), {
      statusCode: 415,
    });
  });
}

/**
 * JSON bodies as Fastify parses them (prototype poisoning refused), after one pass that
 * refuses nesting deeper than {@link MAX_JSON_DEPTH} with 400: a body of 100,000 nested arrays
 * is answered in a millisecond, and nothing behind the parser walks a tree that deep.
 */
function limitJsonDepth(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      return done(Object.assign(new Error(`the JSON body nests arrays or objects more than ${MAX_JSON_DEPTH} deep`), { statusCode: 400 }), undefined);
    }
    parse(req, body as string, done);
  });
}

/**
 * An OpenAI-compatible HTTP facade over the same generation path as gRPC, so the official
 * OpenAI SDKs work unchanged: `/v1/chat/completions` and `/v1/completions` (JSON or SSE),
 * `/v1/models` and `/v1/models/{id}`; `/v1/files` and `/v1/batches` go to the batch service.
 */
export function createHttpFacade(deps: HttpFacadeDeps): FastifyInstance {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...deps.connectionLimits };
  // Node's own defaults let a request take forever to arrive (requestTimeout 0 in Fastify) and
  // look for overdue headers only every 30 s; a connection that sends nothing is closed once
  // its headers are overdue (answered 408), an idle keep-alive one after the keep-alive timeout.
  const server = {
    headersTimeout: limits.httpHeadersTimeoutMs,
    requestTimeout: limits.httpRequestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.httpHeadersTimeoutMs),
  };
  const options = {
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    logger: false,
    clientErrorHandler: refuseMalformed,
    requestTimeout: limits.httpRequestTimeoutMs,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
  } as const;
  // Fastify types an HTTPS instance apart from an HTTP one; every route here is the same on both.
  const app = (deps.tls
    ? Fastify({ ...options, https: { ...readTlsPair(deps.tls), ...server } })
    : Fastify({ ...options, http: server })) as unknown as FastifyInstance;
  refuseEncodedBodies(app);
  limitJsonDepth(app);
  if (deps.tls) {
    const stopWatching = watchTlsFiles(
      deps.tls,
      (pair) => {
        (app.server as unknown as HttpsServer).setSecureContext(pair);
        deps.logger.info({ certFile: deps.tls!.certFile }, 'TLS certificate reloaded');
      },
      (e) => deps.logger.warn({ err: e }, 'TLS certificate files changed but cannot be read yet; serving the previous certificate'),
    );
    app.addHook('onClose', async () => stopWatching());
  }
  const principals = new WeakMap<FastifyRequest, Principal>();

  const sendError = (reply: FastifyReply, e: unknown) => {
    if (!isDomainError(e)) deps.logger.error({ err: e }, 'http request failed');
    const { status, body } = isDomainError(e) ? openAiError(e.code, e.message, e.reason) : openAiError('INTERNAL', 'internal error');
    const retryAfter = isDomainError(e) ? retryAfterSeconds(e.retryAfterMs) : undefined;
    if (retryAfter) void reply.header('retry-after', retryAfter);
    // The OpenAI SDKs retry every 429 and 5xx unless told not to: an answer that a retry cannot
    // change (an exhausted budget) or would pay for again (a lost token stream) says so.
    if (isDomainError(e) && !e.retryable && (status >= 500 || status === 429)) void reply.header('x-should-retry', 'false');
    return reply.status(status).send(body);
  };

  // onRequest runs before Fastify reads the body: a caller without a valid key learns
  // nothing about what a body should hold, and its body is never parsed.
  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      principals.set(req, actFor(deps.keyring.authenticate(header(req.headers.authorization)), header(req.headers[ACT_FOR_TENANT_HEADER])));
    } catch (e) {
      deps.generation.metrics?.refused('auth');
      // Refused before its body was read: the connection closes after the answer, so the
      // unread body is never parsed as a next request on it.
      if (req.raw.headers['content-length'] !== '0' && (req.raw.headers['content-length'] || req.raw.headers['transfer-encoding']))
        void reply.header('connection', 'close');
      return sendError(reply, e);
    }
  };

  app.setErrorHandler((error: { statusCode?: number; message: string }, _req, reply) => {
    // Fastify's own refusals (body too large, bad JSON) keep their status, in OpenAI's shape.
    const status = error.statusCode ?? 500;
    // Fastify closes the connection after a body it refused. One refused for its size is not read
    // to its end, and closing a socket with unread bytes resets it: most callers lost this answer
    // to EPIPE / ECONNRESET. Kept open, node reads and drops the rest (for at most the request
    // timeout) and the caller reads the 413.
    if (status === 413) void reply.removeHeader('connection');
    void reply.status(status).send(httpRefusal(status, error.message));
  });

  forwardBatchApi(app, deps.batchApi, deps.logger);

  app.setNotFoundHandler((_req, reply) => {
    void reply
      .status(404)
      .send(
        httpRefusal(
          404,
          'no such route: this server serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{model}, /v1/files and /v1/batches',
        ),
      );
  });

  const context: HttpRouteContext = { deps, authenticate, principalOf: (req) => principals.get(req)!, sendError };
  registerModelRoutes(app, context);
  registerGenerationRoutes(app, context);
  return app;
}
