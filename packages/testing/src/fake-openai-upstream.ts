import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fake upstream answers the next call: `stream` sends `tokens` as chunks, then (unless
 * `usage: false`) a usage chunk and `[DONE]`; `status` answers that HTTP status; `hang` never
 * answers; `reset` destroys the connection before answering; `cut` sends `afterTokens` chunks and
 * destroys the connection; `stall` sends `afterTokens` chunks and then nothing, keeping it open.
 */
export type FakeUpstreamMode =
  | { readonly kind: 'stream'; readonly tokens: readonly string[]; readonly usage?: { readonly prompt: number; readonly completion: number } | false }
  | { readonly kind: 'status'; readonly status: number; readonly body?: string; readonly retryAfter?: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'cut'; readonly tokens: readonly string[]; readonly afterTokens: number }
  | { readonly kind: 'stall'; readonly tokens: readonly string[]; readonly afterTokens: number };

export interface FakeUpstream {
  /** Base URL up to and including `/v1`. */
  readonly baseUrl: string;
  /** Bodies and authorization headers of the calls received, in order. */
  readonly calls: Array<{ readonly body: Record<string, unknown>; readonly authorization?: string }>;
  /** Most calls that were open at once. */
  readonly peakConcurrent: () => number;
  /** Sets how every following call is answered. */
  answer(mode: FakeUpstreamMode): void;
  close(): Promise<void>;
}

const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

/** `GET /v1/models` (the adapter's health probe): down the way the mode is down, else a list of one model. */
function models(m: FakeUpstreamMode, req: IncomingMessage, res: ServerResponse) {
  if (m.kind === 'hang') return void setTimeout(() => res.destroy(), 10_000).unref();
  if (m.kind === 'reset') return void req.socket.destroy();
  if (m.kind === 'status' && m.status >= 500) return void res.writeHead(m.status).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'fake', object: 'model' }] }));
}

/**
 * A fake OpenAI-compatible `POST /v1/chat/completions` (SSE) on a free local port, for tests of
 * the engine adapter; `calls` records only the completions, not the `GET /models` probes.
 */
export async function startFakeOpenAiUpstream(initial: FakeUpstreamMode = { kind: 'stream', tokens: ['Hello', ',', ' world'] }): Promise<FakeUpstream> {
  let mode = initial;
  const calls: FakeUpstream['calls'] = [];
  const open = new Set<ServerResponse>();
  let concurrent = 0;
  let peak = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const m = mode;
    if (req.method === 'GET') return models(m, req, res);
    peak = Math.max(peak, ++concurrent);
    res.on('close', () => concurrent--);
    let raw = '';
    for await (const part of req) raw += String(part);
    calls.push({ body: JSON.parse(raw || '{}') as Record<string, unknown>, authorization: req.headers.authorization });
    if (m.kind === 'hang') return void open.add(res);
    if (m.kind === 'reset') return void req.socket.destroy();
    if (m.kind === 'status') {
      res.writeHead(m.status, { 'content-type': 'application/json', ...(m.retryAfter ? { 'retry-after': m.retryAfter } : {}) });
      return void res.end(m.body ?? JSON.stringify({ error: { message: `fake upstream answered ${m.status}` } }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (m.kind === 'stall') {
      for (const t of m.tokens.slice(0, m.afterTokens)) res.write(chunk(t));
      return void open.add(res);
    }
    if (m.kind === 'cut') {
      for (const t of m.tokens.slice(0, m.afterTokens)) res.write(chunk(t));
      // Let the chunks reach the adapter before the connection drops.
      return void setTimeout(() => req.socket.destroy(), 50);
    }
    m.tokens.forEach((t, i) => res.write(chunk(t, i === m.tokens.length - 1 ? 'stop' : null)));
    if (m.usage !== false) {
      const usage = m.usage ?? { prompt: 11, completion: m.tokens.length };
      res.write(
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion } })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
  };
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    peakConcurrent: () => peak,
    answer: (next) => void (mode = next),
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
