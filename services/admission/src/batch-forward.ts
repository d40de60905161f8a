import { request, type IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { httpRefusal } from '@switchyard/openai-wire';
import type { Logger } from '@switchyard/telemetry';

const BATCH_API = /^\/v1\/(files|batches)(\/|\?|$)/;

/** Headers that describe one connection, not the request (RFC 9110 7.6.1): a proxy does not pass them on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

/**
 * The headers of one hop that go on to the next. The caller's `connection: keep-alive`, passed
 * on to node's client, left about half of a burst of new upstream connections unanswered.
 */
const endToEnd = (headers: IncomingHttpHeaders, host?: string): IncomingHttpHeaders => {
  const kept = Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k)));
  return host === undefined ? kept : { ...kept, host };
};

/**
 * Forwards OpenAI's Files and Batches API (`/v1/files...`, `/v1/batches...`) to the batch
 * service, so the SDKs reach it at the same base URL as chat. Bodies stream through both
 * ways untouched (a 200 MB upload is never held here); the batch service authenticates.
 * With no target the routes answer 404 saying the Batch API is off.
 */
export function forwardBatchApi(app: FastifyInstance, target: URL | undefined, logger: Logger): void {
  app.addHook('onRequest', (req, reply, done) => {
    if (!BATCH_API.test(req.raw.url ?? '')) return done();
    reply.hijack();
    const res = reply.raw;
    const refuse = (status: number, message: string) => {
      const body = JSON.stringify(httpRefusal(status, message));
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    };
    if (!target) return refuse(404, 'the Batch API is off on this server (BATCH_HTTP_URL=off)');
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.raw.method, path: req.raw.url, headers: endToEnd(req.raw.headers, target.host) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) return refuse(503, 'the batch service cannot be reached right now; retry shortly');
      logger.warn({ err: e.message }, 'batch API answer cut off');
      res.destroy(e);
    });
    // A caller that leaves mid-upload or mid-download ends the forwarded call too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.raw.pipe(upstream);
  });
}
