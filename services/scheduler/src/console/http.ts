import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Keyring, Principal } from '@switchyard/auth';
import { DomainError, isDomainError } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { OperatorActions } from '../ops/operator-actions.js';
import type { ConsoleFeed } from './console-feed.js';
import { CONSOLE_PAGE } from './console-page.js';

export interface ConsoleServerDeps {
  /** `host:port`; port 0 picks a free one. */
  readonly listen: string;
  /** Any valid key reads; writes need an operator key (checked, and audited, by `actions`). */
  readonly keyring: Keyring;
  readonly feed: ConsoleFeed;
  readonly actions: OperatorActions;
  readonly logger: Logger;
  /** How often the event stream sends a snapshot. Default 1,000 ms. */
  readonly intervalMs?: number;
}

export interface ConsoleServer {
  /** e.g. `http://127.0.0.1:8090`; the page is at `/console`. */
  readonly url: string;
  stop(): Promise<void>;
}

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, PERMISSION_DENIED: 403, NOT_FOUND: 404, INVALID_ARGUMENT: 400 };
const POOL_ACTION = /^\/console\/pools\/([A-Za-z0-9_-]+)\/(drain|undrain)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: unknown, logger: Logger): void {
  if (!isDomainError(e)) logger.error({ err: e }, 'console request failed');
  const status = isDomainError(e) ? (STATUS[e.code] ?? 500) : 500;
  send(res, status, { error: { code: isDomainError(e) ? e.code : 'INTERNAL', message: isDomainError(e) ? e.message : 'internal error' } });
}

/** The body of a pool action: `{ "reason": "..." }`, or nothing. */
async function readJson(req: IncomingMessage): Promise<{ reason?: unknown }> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 4_096) throw new DomainError('INVALID_ARGUMENT', 'the body may hold at most 4 KiB: {"reason": "..."}');
  }
  try {
    return text ? (JSON.parse(text) as { reason?: unknown }) : {};
  } catch {
    throw new DomainError('INVALID_ARGUMENT', 'the body must be JSON: {"reason": "..."}, or empty');
  }
}

/**
 * The live operator console: `GET /console` is the page (everything inline, nothing fetched
 * from elsewhere), `GET /console/events` a server-sent event stream of the viewer's snapshot
 * each second, `GET /console/snapshot` one snapshot, and `POST /console/pools/<id>/drain|undrain`
 * the pool controls. Keys come in `authorization: Bearer <key>`, never in a URL.
 */
export async function startConsoleServer(deps: ConsoleServerDeps): Promise<ConsoleServer> {
  const intervalMs = deps.intervalMs ?? 1_000;
  const principal = (req: IncomingMessage): Principal => deps.keyring.authenticate(req.headers.authorization);
  const viewer = (p: Principal) => ({ keyId: p.keyId, tenant: p.tenant, operator: p.operator });
  const streams = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://console').pathname;
      if (req.method === 'GET' && (path === '/console' || path === '/console/')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(CONSOLE_PAGE);
        return;
      }
      if (req.method === 'GET' && path === '/console/snapshot') {
        send(res, 200, deps.feed.snapshot(viewer(principal(req))));
        return;
      }
      if (req.method === 'GET' && path === '/console/events') {
        viewer(principal(req));
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        streams.add(res);
        const stop = () => {
          clearInterval(timer);
          streams.delete(res);
        };
        // The key is checked again before every snapshot: a key revoked while the page is open
        // ends its stream (the page then asks again and is told why). A snapshot that fails ends
        // the stream too, logged: it runs on a timer, where a throw would take the process down.
        const push = () => {
          try {
            res.write(`data: ${JSON.stringify(deps.feed.snapshot(viewer(principal(req))))}\n\n`);
          } catch (e) {
            if (!isDomainError(e)) deps.logger.error({ err: e }, 'console snapshot failed');
            stop();
            res.end();
          }
        };
        const timer = setInterval(push, intervalMs);
        push();
        req.on('close', stop);
        return;
      }
      const action = POOL_ACTION.exec(path);
      if (req.method === 'POST' && action) {
        const p = principal(req);
        const [, pool, verb] = action as unknown as [string, string, 'drain' | 'undrain'];
        const body = await readJson(req);
        const reason = typeof body.reason === 'string' && body.reason ? body.reason.slice(0, 200) : `drained from the console by ${p.keyId}`;
        const status = verb === 'drain' ? await deps.actions.drain(p, pool, reason) : await deps.actions.undrain(p, pool);
        send(res, 200, { pool: status.id, drained: status.drained, drainReason: status.drainReason });
        return;
      }
      send(res, 404, {
        error: {
          code: 'NOT_FOUND',
          message: 'this server serves GET /console, GET /console/events, GET /console/snapshot, POST /console/pools/<pool>/drain|undrain',
        },
      });
    })().catch((e: unknown) => (res.headersSent ? res.end() : sendError(res, e, deps.logger)));
  });

  const [host, port] = [deps.listen.slice(0, deps.listen.lastIndexOf(':')), Number(deps.listen.slice(deps.listen.lastIndexOf(':') + 1))];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    async stop() {
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
