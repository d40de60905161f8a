import type { KV, PulledMessage } from '@switchyard/bus';
import type { EndpointSpec, PoolSpec, Upstream } from '@switchyard/config';
import { encodeHeartbeat, heartbeatKey } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { BatchTracker, OutputDeps } from '@switchyard/worker-kit';
import { adapterHeartbeat, upstreamRoom, type UpstreamLoad } from './domain/adapter-heartbeat.js';
import { CLOSED, afterFailure, afterProbe, afterSuccess, isOpen, probeDue, type BreakerState } from './domain/circuit-breaker.js';
import { engineMetrics, ttftBetween, type EngineMetrics } from './domain/engine-metrics.js';
import { failureSummary, isPlatformFailure, retryAfterMs, type UpstreamFailure } from './domain/failures.js';
import { createGpuShare } from './domain/gpu-share.js';
import { ewma } from './domain/latency.js';
import { createRateWindow } from './domain/rate-window.js';
import { createPoolServing } from './pool-serving.js';
import type { UpstreamMetrics } from './metrics.js';
import { probeUpstream, scrapeMetrics } from './upstream-probe.js';

export interface UpstreamWorkerDeps {
  readonly pool: PoolSpec & { readonly endpoint: EndpointSpec };
  readonly upstream: Upstream;
  readonly worker: string;
  readonly apiKey?: string;
  readonly out: OutputDeps;
  readonly batches: BatchTracker;
  readonly poolsKv: KV;
  readonly logger: Logger;
  readonly countTokens: (text: string) => number;
  readonly now: () => number;
  readonly wasCancelled: (requestId: string) => boolean;
  /** Room appeared (a request ended, the breaker or a pause changed): look for work again. */
  readonly wake: () => void;
  readonly stopping: () => boolean;
  readonly metrics?: UpstreamMetrics;
}

/** Scrapes that fail in a row before the engine's last figures are dropped. */
const STALE_SCRAPES = 3;

/**
 * One engine (or provider endpoint) behind a pool, seen as one worker of it: its requests
 * upstream, its circuit breaker and 429 pause, the engine's own figures from its metrics, the
 * GPU time they share, and the heartbeat built from all of it. `tick` (once per heartbeat)
 * scrapes, probes an open breaker and publishes the heartbeat.
 */
export function createUpstreamWorker(deps: UpstreamWorkerDeps) {
  const { pool, upstream, logger, now } = deps;
  let breaker: BreakerState = CLOSED;
  let pausedUntilMs = 0;
  let engine: EngineMetrics | undefined;
  let failedScrapes = 0;
  let ttftMs = 0;
  const share = createGpuShare(now());
  const rate = createRateWindow(pool.endpoint);
  let rateWake: NodeJS.Timeout | undefined;
  /** Counts a request against the rate limits; once they are used up, looks for work again when the window frees room. */
  const sent = (request: { promptTokens: number; maxTokens: number }) => {
    rate.record(now(), request.promptTokens + request.maxTokens);
    const freeAt = rate.room(now()) > 0 ? undefined : rate.nextFreeAtMs(now());
    if (freeAt === undefined || rateWake) return;
    rateWake = setTimeout(() => ((rateWake = undefined), deps.wake()), Math.max(0, freeAt - now()));
    rateWake.unref();
  };

  const report = (failure: UpstreamFailure | undefined) => {
    if (!failure) {
      if (isOpen(breaker) || (breaker.kind === 'closed' && breaker.failures > 0)) breaker = afterSuccess();
      deps.metrics?.circuit(false);
      return;
    }
    deps.metrics?.failure(failure.kind);
    if (failure.kind === 'rate-limited') {
      pausedUntilMs = Math.max(pausedUntilMs, now() + retryAfterMs(failure.retryAfter, now()));
      deps.metrics?.paused(true);
      setTimeout(() => (deps.metrics?.paused(now() < pausedUntilMs), deps.wake()), pausedUntilMs - now()).unref();
      return;
    }
    if (!isPlatformFailure(failure)) return;
    const wasOpen = isOpen(breaker);
    breaker = afterFailure(breaker, now(), failureSummary(failure));
    if (!wasOpen && isOpen(breaker)) {
      logger.warn({ upstream: upstream.baseUrl, failure: failure.kind }, 'circuit open: upstream out of placement until a probe succeeds');
      deps.metrics?.circuit(true);
      // Tell the scheduler now rather than at the next tick.
      void beat();
      deps.wake();
    }
  };

  const serving = createPoolServing({
    pool,
    upstream,
    apiKey: deps.apiKey,
    out: deps.out,
    batches: deps.batches,
    logger,
    countTokens: deps.countTokens,
    now,
    wasCancelled: deps.wasCancelled,
    onFirstToken: (ms) => {
      deps.metrics?.ttft(ms);
      // With engine metrics the engine's own TTFT histogram is the better figure.
      if (!upstream.metricsUrl) ttftMs = ewma(ttftMs, ms);
    },
    onSettled: deps.wake,
    circuit: { openReason: () => (breaker.kind === 'open' ? `circuit open since ${breaker.lastFailure}` : undefined), report },
    share,
    onSend: sent,
    onEnd: deps.metrics?.call,
  });

  const load = (): UpstreamLoad => ({
    pool: pool.id,
    worker: deps.worker,
    running: serving.running,
    waiting: serving.waiting,
    limit: pool.endpoint.concurrency,
    engine,
    ttftMs,
    stopping: deps.stopping(),
    circuitOpen: isOpen(breaker),
    pausedUntilMs,
    rateRoom: rate.room(now()),
    nowMs: now(),
  });

  const beat = () =>
    deps.poolsKv.put(heartbeatKey(pool.id, deps.worker), encodeHeartbeat(adapterHeartbeat(load()))).then(
      () => undefined,
      (e: unknown) => logger.warn({ err: e }, 'heartbeat failed'),
    );

  async function scrape() {
    if (!upstream.metricsUrl) return;
    const text = await scrapeMetrics(upstream.metricsUrl, deps.apiKey);
    const figures = text === undefined ? undefined : engineMetrics(text);
    if (!figures) {
      if (++failedScrapes === STALE_SCRAPES) logger.warn({ metricsUrl: upstream.metricsUrl }, 'engine metrics unreadable; using the adapter’s own counts');
      if (failedScrapes >= STALE_SCRAPES) {
        engine = undefined;
        deps.metrics?.engine(undefined);
      }
      return;
    }
    failedScrapes = 0;
    const ttft = ttftBetween(engine, figures);
    if (ttft !== undefined) ttftMs = ewma(ttftMs, ttft);
    engine = figures;
    deps.metrics?.engine(figures);
    share.observe(now(), figures.running);
  }

  async function probe() {
    if (!probeDue(breaker, now())) return;
    const result = await probeUpstream(upstream.baseUrl, deps.apiKey);
    breaker = afterProbe(breaker, result.ok, now(), result.detail);
    deps.metrics?.circuit(isOpen(breaker));
    if (result.ok) {
      logger.info({ upstream: upstream.baseUrl }, 'circuit closed: the upstream answered its probe');
      deps.wake();
    }
  }

  return {
    accept: (message: PulledMessage) => serving.accept(message),
    cancel: (requestId: string) => serving.cancel(requestId),
    abandonAll: () => serving.abandonAll(),
    room: () => upstreamRoom(load()),
    /** Scrapes the engine, probes an open breaker, then publishes the heartbeat. */
    async tick() {
      await Promise.all([scrape(), probe()]);
      await beat();
    },
    removeHeartbeat: () => deps.poolsKv.delete(heartbeatKey(pool.id, deps.worker)).catch(() => {}),
  };
}

export type UpstreamWorker = ReturnType<typeof createUpstreamWorker>;
