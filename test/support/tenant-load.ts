import { Worker } from 'node:worker_threads';

/** One call of an open-loop load, as its caller saw it. */
export interface LoadCall {
  /** When the call was sent, ms after the load started. */
  readonly atMs: number;
  /** Time to the first generated token, ms; -1 when none came. */
  readonly ttftMs: number;
  readonly totalMs: number;
  /** HTTP status of the answer; 0 when none came (the caller gave up). */
  readonly status: number;
  /**
   * How it ended: `completed`, `shed` (the scheduler's load shedding), `rate-limited`
   * (admission's rate limits), `timed-out` (its deadline, or the caller gave up waiting),
   * else `<status> <error code>`.
   */
  readonly kind: string;
  readonly requestId: string;
}

export interface LoadOptions {
  /** The OpenAI-compatible base URL, `http://host:port/v1`. */
  readonly url: string;
  readonly apiKey: string;
  readonly tier: 'realtime' | 'internal' | 'batch';
  /** Calls started per second, evenly spaced, whether earlier ones have ended or not. */
  readonly perSecond: number;
  readonly durationMs: number;
  readonly maxTokens: number;
  /** The call's deadline (`x-switchyard-timeout-ms`); the caller gives up 2 s after it. */
  readonly timeoutMs: number;
  readonly model?: string;
}

/**
 * Streamed chat completions at a fixed rate on a thread of their own, as another application
 * would send them: the latencies measured are Switchyard's, not this test's event loop busy
 * with hundreds of streams. Each call is timed to its first content chunk.
 */
const LOADER = `
const { parentPort, workerData: o } = require('node:worker_threads');
const classify = (status, error) => {
  const message = (error && error.message) || '';
  if (/load shed/.test(message)) return 'shed';
  if (status === 429 && /rate limit|per minute/i.test(message)) return 'rate-limited';
  if (status === 504 || (error && error.code === 'deadline_exceeded')) return 'timed-out';
  return status + ' ' + ((error && error.code) || 'unknown');
};
async function call(atMs) {
  const t0 = performance.now();
  const out = { atMs, ttftMs: -1, totalMs: 0, status: 0, kind: 'completed', requestId: '' };
  try {
    const res = await fetch(o.url + '/chat/completions', {
      method: 'POST',
      headers: {
        authorization: 'Bearer ' + o.apiKey,
        'content-type': 'application/json',
        'x-switchyard-tier': o.tier,
        'x-switchyard-timeout-ms': String(o.timeoutMs),
      },
      body: JSON.stringify({ model: o.model, messages: [{ role: 'user', content: 'fair share' }], max_tokens: o.maxTokens, stream: true }),
      signal: AbortSignal.timeout(o.timeoutMs + 2000),
    });
    out.status = res.status;
    out.requestId = res.headers.get('x-request-id') || '';
    if (res.status !== 200) {
      const body = await res.json().catch(() => ({}));
      out.kind = classify(res.status, body.error);
      return out;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    let done = false;
    let error;
    for (;;) {
      const { done: ended, value } = await reader.read();
      if (ended) break;
      buffered += decoder.decode(value, { stream: true });
      for (let i; (i = buffered.indexOf('\\n\\n')) >= 0; ) {
        const event = buffered.slice(0, i);
        buffered = buffered.slice(i + 2);
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') { done = true; continue; }
        const parsed = JSON.parse(data);
        if (parsed.error) error = parsed.error;
        else if (out.ttftMs < 0 && parsed.choices && parsed.choices[0] && parsed.choices[0].delta && parsed.choices[0].delta.content) out.ttftMs = performance.now() - t0;
      }
    }
    if (!done) out.kind = error ? classify(200, error) : '200 cut';
  } catch (e) {
    out.kind = e && (e.name === 'TimeoutError' || e.name === 'AbortError') ? 'timed-out' : 'error ' + (e && e.message);
  } finally {
    out.totalMs = performance.now() - t0;
  }
  return out;
}
(async () => {
  const calls = [];
  const started = performance.now();
  const count = Math.round((o.perSecond * o.durationMs) / 1000);
  for (let n = 0; n < count; n++) {
    const due = (n * 1000) / o.perSecond;
    const wait = due - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    calls.push(call(performance.now() - started));
  }
  parentPort.postMessage(await Promise.all(calls));
})();
`;

/** Runs `o.perSecond` streamed calls a second for `o.durationMs` and resolves, once every call ended, with each call's result in order. */
export function runTenantLoad(o: LoadOptions): Promise<LoadCall[]> {
  const worker = new Worker(LOADER, { eval: true, workerData: { model: 'llama-3.1-8b', ...o } });
  return new Promise((resolve, reject) => {
    worker.once('message', (calls: LoadCall[]) => void worker.terminate().then(() => resolve(calls)));
    worker.once('error', reject);
  });
}
