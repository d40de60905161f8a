import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPerfModel, loadProfiles, type GpuProfile, type GpuType } from '@switchyard/perf-model';
import type { Logger } from '@switchyard/telemetry';
import { encodePrompt } from '@switchyard/tokenizer';
import { createEngine, IDLE_LOAD, type Engine, type EngineLoad } from './domain/engine.js';
import { parseCompletionRequest, type CompletionKind } from './domain/completion-request.js';
import { decideFault, engineHung, parseHttpFaults, type HttpFaults } from './domain/http-faults.js';
import { openAiErrorReply, type OpenAiErrorReply } from './domain/openai-error.js';
import { createSimClock, type Speed } from './domain/sim-clock.js';
import { createVllmStats, formatVllmMetrics } from './domain/vllm-metrics.js';
import { createCompletions, type Completions } from './engine-completions.js';
import { readBody } from './read-body.js';
import { startStepLoop, type StepLoop } from './step-loop.js';

/** Models with a measured profile. */
export const ENGINE_MODELS = ['llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4'] as const;
export type EngineModel = (typeof ENGINE_MODELS)[number];

export interface EngineServerOptions {
  readonly model: EngineModel;
  readonly gpu: GpuType;
  /** Names the `model` field may give; the first is what `/v1/models` and `/metrics` show. Default `[model]`. */
  readonly servedModelNames?: readonly string[];
  /** Sequences running at once (vLLM's `max_num_seqs`). Default 32. */
  readonly slots?: number;
  /** Tokens one engine step pushes through the model, decodes plus prefill chunks. Default 2048. */
  readonly maxBatchTokens?: number;
  /** KV-cache tokens; default what the GPU holds after the weights (`perf.kvCapacityTokens()`). */
  readonly kvCacheTokens?: number;
  /** Simulated time per real time, as `WORKER_SPEED`: 1 real time, 10 ten times faster, 'max' no sleeping. Default 1. */
  readonly speed?: Speed;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** When set, `/v1/*` and `/admin/*` need `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Opens `POST`/`DELETE /admin/faults`. Default false: anyone who can reach the port could otherwise break the engine. */
  readonly faultsEnabled?: boolean;
  /** Faults in force from the start. Default none. */
  readonly faults?: HttpFaults;
  /** Measured step latencies; default the repository's `deploy/profiles`. */
  readonly profiles?: Record<GpuType, GpuProfile>;
  /** Hears fault changes and failed requests. Default: nothing is logged. */
  readonly logger?: Logger;
  /** Real Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Uniform [0, 1) draws: which calls a `fraction` fault hits, seeds of requests without one. Default `Math.random`. */
  readonly random?: () => number;
}

export interface EngineServer {
  /** Listens; `baseUrl` ends in `/v1`, as OpenAI clients take it. */
  start(): Promise<{ readonly baseUrl: string; readonly metricsUrl: string }>;
  /** Drops every open request and closes the port. */
  stop(): Promise<void>;
  /** Replaces the faults in force (`{}` clears them); throws `FaultSpecError` for a description that makes no sense. */
  setFaults(faults: HttpFaults): void;
  /** The engine's load now (idle before `start`). */
  load(): EngineLoad;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

interface Running {
  readonly engine: Engine;
  readonly loop: StepLoop;
  readonly completions: Completions;
}

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const sendError = (res: ServerResponse, e: OpenAiErrorReply, headers: Record<string, string> = {}) => send(res, e.status, e.body, headers);

/**
 * One simulated GPU behind an OpenAI-compatible HTTP server, as vLLM serves one (like
 * llm-d-inference-sim): `/v1/chat/completions` and `/v1/completions` (SSE or one body),
 * `/v1/models`, `/health` and vLLM's `/metrics`, its tokens timed by the measured profile of
 * `model` on `gpu` through the worker's continuous-batching engine, with injectable faults.
 */
export function createEngineServer(options: EngineServerOptions): EngineServer {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const names = options.servedModelNames?.length ? options.servedModelNames : [options.model];
  const stats = createVllmStats();
  const held = new Set<ServerResponse>();
  let faults = parseHttpFaults(options.faults ?? {});
  let running: Running | undefined;

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      options.logger?.error({ err: e, url: req.url }, 'engine request failed');
      if (!res.headersSent) sendError(res, openAiErrorReply(500, 'internal_error', 'the simulator failed on this request'));
      else res.destroy();
    });
  });

  const authorized = (req: IncomingMessage) => options.apiKey === undefined || req.headers.authorization === `Bearer ${options.apiKey}`;

  async function completion(kind: CompletionKind, req: IncomingMessage, res: ServerResponse, r: Running) {
    const fault = decideFault(faults, random());
    if (fault.kind === 'status') {
      const retry: Record<string, string> = fault.retryAfterS === undefined ? {} : { 'retry-after': String(fault.retryAfterS) };
      const code = fault.status === 429 ? 'rate_limit_exceeded' : 'injected_fault';
      return sendError(res, openAiErrorReply(fault.status, code, `injected fault: HTTP ${fault.status}`), retry);
    }
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === undefined) return sendError(res, openAiErrorReply(413, 'request_too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`));
    if (fault.kind === 'hang') {
      // Taken and never answered; only the caller giving up (or the server stopping) ends it.
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const parsed = parseCompletionRequest(kind, raw);
    if (!parsed.ok) return sendError(res, parsed.error);
    const model = parsed.request.model ?? names[0]!;
    if (!names.includes(model)) {
      return sendError(res, openAiErrorReply(404, 'model_not_found', `the model \`${model}\` does not exist; this engine serves ${names.join(', ')}`, 'model'));
    }
    const refused = r.completions.start(parsed.request, model, res, fault);
    if (refused) sendError(res, refused);
  }

  async function admin(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'GET') return send(res, 200, faults);
    if (req.method === 'DELETE') {
      faults = {};
      options.logger?.info('faults cleared');
      return send(res, 200, faults);
    }
    if (req.method !== 'POST') return sendError(res, openAiErrorReply(405, 'method_not_allowed', 'use GET, POST or DELETE on /admin/faults'));
    const raw = (await readBody(req, 64 * 1024)) ?? '';
    try {
      faults = parseHttpFaults(JSON.parse(raw));
    } catch (e) {
      return sendError(res, openAiErrorReply(400, 'invalid_faults', e instanceof SyntaxError ? 'the body is not valid JSON' : (e as Error).message));
    }
    options.logger?.info({ faults }, 'faults set');
    running?.loop.wake();
    send(res, 200, faults);
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]!;
    const r = running;
    if (path === '/health' && req.method === 'GET') {
      return engineHung(faults) ? sendError(res, openAiErrorReply(503, 'engine_hung', 'the engine is hung (injected fault)')) : void res.writeHead(200).end();
    }
    if (path === '/metrics' && req.method === 'GET') {
      const load = r?.engine.load() ?? IDLE_LOAD;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(formatVllmMetrics(names[0]!, load, stats));
    }
    const isAdmin = path === '/admin/faults' && options.faultsEnabled === true;
    if (!isAdmin && !path.startsWith('/v1/')) return sendError(res, openAiErrorReply(404, 'not_found', `no route ${req.method} ${path}`));
    if (!authorized(req)) return sendError(res, openAiErrorReply(401, 'invalid_api_key', 'a valid API key is needed: Authorization: Bearer <key>'));
    if (isAdmin) return admin(req, res);
    if (path === '/v1/models' && req.method === 'GET') {
      const created = Math.floor(now() / 1000);
      return send(res, 200, {
        object: 'list',
        data: names.map((id) => ({ id, object: 'model', created, owned_by: 'switchyard-simulator', root: options.model })),
      });
    }
    const kind: CompletionKind | undefined = path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'text' : undefined;
    if (kind === undefined || req.method !== 'POST' || !r) return sendError(res, openAiErrorReply(404, 'not_found', `no route ${req.method} ${path}`));
    return completion(kind, req, res, r);
  }

  return {
    async start() {
      const profiles = options.profiles ?? (await loadProfiles());
      const { rows, meta } = profiles[options.gpu];
      const perf = createPerfModel(rows, meta, options.model);
      const kvCapacityTokens = options.kvCacheTokens ?? perf.kvCapacityTokens();
      const engine = createEngine({
        perf,
        kvCapacityTokens,
        maxRunning: options.slots ?? 32,
        maxBatchTokens: options.maxBatchTokens ?? 2048,
      });
      const clock = createSimClock({ speed: options.speed ?? 1 });
      let completions: Completions | undefined;
      const loop = startStepLoop({ engine, clock, hung: () => engineHung(faults), slowdown: () => 1, onStep: (step) => completions!.apply(step) });
      completions = createCompletions({ engine, loop, stats, encodePrompt, kvCapacityTokens, random, now });
      loop.done.catch((e: unknown) => options.logger?.error({ err: e }, 'engine step loop failed'));
      running = { engine, loop, completions };
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { address, port } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      return { baseUrl: `http://${host}:${port}/v1`, metricsUrl: `http://${host}:${port}/metrics` };
    },

    async stop() {
      const r = running;
      running = undefined;
      if (r) {
        await r.loop.stop();
        r.completions.dropAll();
      }
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },

    setFaults(next) {
      faults = parseHttpFaults(next);
      running?.loop.wake();
    },

    load: () => running?.engine.load() ?? IDLE_LOAD,
  };
}
