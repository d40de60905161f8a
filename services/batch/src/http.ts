import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ACT_FOR_TENANT_HEADER, actFor, type Keyring, type Principal } from '@switchyard/auth';
import { DomainError, isDomainError } from '@switchyard/contracts';
import { httpRefusal, openAiError } from '@switchyard/openai-wire';
import type { Logger } from '@switchyard/telemetry';
import { pageLimit, type BatchApi } from './batch-api.js';
import { batchObject } from './domain/batch-record.js';
import type { FileRecord } from './file-store.js';

export interface BatchHttpDeps {
  readonly api: BatchApi;
  readonly keyring: Keyring;
  readonly logger: Logger;
  /** Largest upload, in bytes (multipart file part). */
  readonly maxFileBytes: number;
}

const fileObject = (f: FileRecord) => ({
  id: f.id,
  object: 'file',
  bytes: f.bytes,
  created_at: Math.floor(f.createdMs / 1000),
  filename: f.filename,
  purpose: f.purpose,
  status: 'processed',
});

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * OpenAI's Files and Batches API over HTTP. Admission's facade forwards `/v1/files` and
 * `/v1/batches` here, so the official SDKs reach it at the same base URL as chat.
 */
export function createBatchHttp(deps: BatchHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  void app.register(multipart, { limits: { fileSize: deps.maxFileBytes + 1, files: 1, fields: 8 } });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const { api } = deps;

  const sendError = (reply: FastifyReply, e: unknown) => {
    if (!isDomainError(e)) deps.logger.error({ err: e }, 'batch http request failed');
    const { status, body } = isDomainError(e) ? openAiError(e.code, e.message) : openAiError('INTERNAL', 'internal error');
    // A cancel of a batch that ended is a 400 in OpenAI's API, not a conflict.
    return reply.status(isDomainError(e) && e.code === 'FAILED_PRECONDITION' ? 400 : status).send(body);
  };
  app.setErrorHandler((error: { statusCode?: number; message: string }, _req, reply) => {
    if (isDomainError(error)) return sendError(reply, error);
    const status = error.statusCode ?? 500;
    if (status >= 500) deps.logger.error({ err: error }, 'batch http request failed');
    void reply.status(status).send(httpRefusal(status, status >= 500 ? 'internal error' : error.message));
  });
  app.setNotFoundHandler((_req, reply) => void reply.status(404).send(httpRefusal(404, 'no such route under /v1/files or /v1/batches')));
  app.addHook('onRequest', async (req, reply) => {
    try {
      // The act-for header means here what it means on admission's routes at the same base URL.
      principals.set(req, actFor(deps.keyring.authenticate(header(req.headers.authorization)), header(req.headers[ACT_FOR_TENANT_HEADER])));
    } catch (e) {
      // Refused before its body was read: the connection closes after the answer, so the
      // unread body is never parsed as a next request on it.
      if (req.raw.headers['content-length'] !== '0' && (req.raw.headers['content-length'] || req.raw.headers['transfer-encoding']))
        void reply.header('connection', 'close');
      return sendError(reply, e);
    }
  });
  const who = (req: FastifyRequest) => principals.get(req)!;

  app.post('/v1/files', async (req) => {
    if (!req.isMultipart()) throw new DomainError('INVALID_ARGUMENT', 'upload the file as multipart/form-data with fields "file" and "purpose"');
    const fields: Record<string, string> = {};
    let filename = '';
    const parts = req.parts();
    // The file's content streams into the store; fields may come before or after it.
    const content = (async function* () {
      for await (const part of parts) {
        if (part.type === 'field') {
          fields[part.fieldname] = String(part.value);
          continue;
        }
        if (part.fieldname !== 'file') throw new DomainError('INVALID_ARGUMENT', `unexpected file field "${part.fieldname}"; send the file as "file"`);
        filename = part.filename;
        for await (const chunk of part.file) yield chunk as Buffer;
        if (part.file.truncated) throw new DomainError('INVALID_ARGUMENT', `the file is larger than ${deps.maxFileBytes} bytes, the limit per upload`);
      }
    })();
    return fileObject(await api.uploadFile(who(req), { filename: () => filename, purpose: () => fields.purpose, content }));
  });

  app.get('/v1/files', async (req) => {
    const q = req.query as { after?: string; limit?: string; purpose?: string };
    const data = await api.listFiles(who(req), { after: q.after, limit: pageLimit(q.limit), purpose: q.purpose });
    return { object: 'list', data: data.map(fileObject), first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false };
  });

  app.get('/v1/files/:id', async (req) => fileObject(await api.getFile(who(req), (req.params as { id: string }).id)));

  app.get('/v1/files/:id/content', async (req, reply) => {
    const content = await api.fileContent(who(req), (req.params as { id: string }).id);
    return reply.type('application/octet-stream').send(Readable.from(content));
  });

  app.delete('/v1/files/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    await api.deleteFile(who(req), id);
    return { id, object: 'file', deleted: true };
  });

  app.post('/v1/batches', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const batch = await api.createBatch(who(req), {
      inputFileId: body.input_file_id,
      endpoint: body.endpoint,
      completionWindow: body.completion_window,
      metadata: body.metadata,
    });
    return batchObject(batch);
  });

  app.get('/v1/batches', async (req) => {
    const q = req.query as { after?: string; limit?: string };
    const { batches, hasMore } = await api.listBatches(who(req), { after: q.after, limit: pageLimit(q.limit) });
    return { object: 'list', data: batches.map(batchObject), first_id: batches[0]?.id ?? null, last_id: batches.at(-1)?.id ?? null, has_more: hasMore };
  });

  app.get('/v1/batches/:id', async (req) => batchObject(await api.getBatch(who(req), (req.params as { id: string }).id)));

  app.post('/v1/batches/:id/cancel', async (req) => batchObject(await api.cancelBatch(who(req), (req.params as { id: string }).id)));

  return app;
}
