import { credentials, Metadata } from '@grpc/grpc-js';
import { AdmissionServiceClient, GenerateRequest, streams, type Event, type GenerateResponse } from '@switchyard/contracts';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { parseTraceparent, startTracing, type ReadableSpan, type Tracing } from '@switchyard/telemetry';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

// Every service runs in this process, so one exporter sees the spans of all of them.
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let system: RunningSystem;
let client: AdmissionServiceClient;

beforeAll(async () => {
  tracing = await startTracing({ service: 'switchyard-test', exporter });
  system = await startSystem();
  client = new AdmissionServiceClient(system.admissionAddress, credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  await system?.stop();
  await tracing?.shutdown();
});

/** The path of one request, in the order each service hands it on. */
const PATH = ['admission.generate', 'policy.check', 'scheduler.place', 'batcher.form', 'worker.run', 'metering.record', 'billing.post'] as const;
/** Who each span's parent is: the span of the service that handed the request on. */
const PARENT: Record<(typeof PATH)[number], string | undefined> = {
  'admission.generate': undefined,
  'policy.check': 'admission.generate',
  'scheduler.place': 'admission.generate',
  'batcher.form': 'scheduler.place',
  'worker.run': 'batcher.form',
  'metering.record': 'worker.run',
  'billing.post': 'metering.record',
};

/** A Generate call over gRPC with the given metadata; resolves with its response headers and request id. */
function generate(metadata: Metadata): Promise<{ headers: Metadata; requestId: string }> {
  return new Promise((resolve, reject) => {
    let headers: Metadata | undefined;
    let requestId = '';
    const call = client.generate({ ...GenerateRequest.decode(new Uint8Array()), model: 'llama-3.1-8b', prompt: 'trace me', maxTokens: 6 }, metadata);
    call.on('metadata', (m: Metadata) => (headers = m));
    call.on('data', (m: GenerateResponse) => {
      if (m.event?.$case === 'started') requestId = m.event.started.requestId;
    });
    call.on('error', reject);
    call.on('end', () => (headers ? resolve({ headers, requestId }) : reject(new Error('no response headers'))));
  });
}

/** The spans of one trace by name, once all seven services' spans have ended. */
async function spansOf(traceId: string): Promise<Map<string, ReadableSpan[]>> {
  return waitFor(`the spans of trace ${traceId}`, async () => {
    const byName = new Map<string, ReadableSpan[]>();
    for (const s of exporter.getFinishedSpans()) {
      if (s.spanContext().traceId !== traceId) continue;
      byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    }
    return PATH.every((name) => byName.has(name)) ? byName : undefined;
  });
}

/**
 * The one span of `name` the request's path went through. A scheduler that waits for capacity
 * naks and places the request again, each time in a span of its own: the one that placed it is
 * the batcher's parent.
 */
function spanOn(byName: Map<string, ReadableSpan[]>, name: string): ReadableSpan {
  const spans = byName.get(name)!;
  if (name !== 'scheduler.place') {
    expect(spans, name).toHaveLength(1);
    return spans[0]!;
  }
  const placed = spans.find((s) => s.spanContext().spanId === spanOn(byName, 'batcher.form').parentSpanContext?.spanId);
  expect(placed, 'the scheduler span that placed the request').toBeDefined();
  return placed!;
}

/** Asserts one trace from admission to the ledger: every span in it, each a child of the service before it. */
function expectOneTrace(byName: Map<string, ReadableSpan[]>, requestId: string) {
  const only = (name: string) => spanOn(byName, name);
  for (const name of PATH) {
    const parent = PARENT[name];
    for (const span of byName.get(name)!) {
      if (parent) expect(span.parentSpanContext?.spanId, `${name}'s parent`).toBe(only(parent).spanContext().spanId);
      expect(span.attributes['switchyard.request_id'], name).toBe(requestId);
      expect(span.attributes['switchyard.tenant'], name).toBe('acme');
    }
  }
  expect(only('admission.generate').attributes).toMatchObject({ 'switchyard.tier': 'realtime', 'switchyard.model': 'llama-3.1-8b' });
  expect(only('worker.run').attributes).toMatchObject({ 'switchyard.pool': 'test-eu-h100-8b', 'switchyard.outcome': 'completed' });
}

/** Every event of `requestId` on the streams an analyst replays, with the span id its envelope names. */
async function eventsOf(requestId: string): Promise<Array<{ stream: string; event: Event; traceId: string; spanId: string }>> {
  const out = [];
  for (const stream of [streams.REQUESTS.name, streams.LIFECYCLE.name, streams.USAGE.name, streams.BILLING.name, streams.DECISIONS.name]) {
    for (const { event } of await readStream(system.nc, stream)) {
      if (event.envelope?.requestId !== requestId) continue;
      const parsed = parseTraceparent(event.envelope.traceparent);
      out.push({ stream, event, traceId: parsed?.traceId ?? '', spanId: parsed?.spanId ?? '' });
    }
  }
  return out;
}

/** Waits until billing posted the request, so every event of its path is on the streams. */
const billed = (requestId: string) =>
  waitFor(`request ${requestId} in the ledger`, async () => {
    const rows = await system.sql`SELECT 1 FROM ledger_transactions WHERE request_id = ${requestId}`;
    return rows.length > 0 ? true : undefined;
  });

/** Each event names the span of the service that published it. */
function expectEventsInTrace(events: Awaited<ReturnType<typeof eventsOf>>, traceId: string, byName: Map<string, ReadableSpan[]>) {
  const spanId = (name: string) => spanOn(byName, name).spanContext().spanId;
  const publisher: Record<string, string> = {
    requestAdmitted: spanId('admission.generate'),
    requestTerminated: spanId('worker.run'),
    usageRecorded: spanId('worker.run'),
    billableUsage: spanId('metering.record'),
    'policy decision': spanId('policy.check'),
    'scheduler decision': spanId('scheduler.place'),
  };
  const streamsSeen = new Set(events.map((e) => e.stream));
  expect(streamsSeen).toEqual(new Set([streams.REQUESTS.name, streams.LIFECYCLE.name, streams.USAGE.name, streams.BILLING.name, streams.DECISIONS.name]));
  const kinds = events.map((e) => (e.event.payload?.$case === 'decision' ? `${e.event.payload.decision.service} decision` : e.event.payload!.$case));
  expect(new Set(kinds)).toEqual(new Set(Object.keys(publisher)));
  events.forEach((e, i) => {
    expect(e.traceId, `${kinds[i]} on ${e.stream}`).toBe(traceId);
    expect(e.spanId, `${kinds[i]} on ${e.stream}`).toBe(publisher[kinds[i]!]);
  });
  const admitted = events.find((e) => e.event.payload?.$case === 'requestAdmitted')!.event;
  expect(admitted.payload?.$case === 'requestAdmitted' && admitted.payload.requestAdmitted.request?.traceparent).toBe(
    `00-${traceId}-${spanId('admission.generate')}-01`,
  );
}

describe('traces: one request is one trace from admission to the ledger', () => {
  it("continues a gRPC caller's traceparent through every service and every event, and answers with it", async () => {
    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${system.apiKey}`);
    metadata.set('traceparent', `00-${callerTrace}-${callerSpan}-01`);

    const { headers, requestId } = await generate(metadata);
    expect(requestId).toMatch(/^req_/);
    await billed(requestId);
    const byName = await spansOf(callerTrace);
    expectOneTrace(byName, requestId);
    const admission = spanOn(byName, 'admission.generate');
    expect(admission.parentSpanContext).toMatchObject({ traceId: callerTrace, spanId: callerSpan, isRemote: true });
    expect(headers.get('traceparent')).toEqual([`00-${callerTrace}-${admission.spanContext().spanId}-01`]);
    expectEventsInTrace(await eventsOf(requestId), callerTrace, byName);
  });

  it('starts a new trace for an HTTP call without a traceparent, and returns it in the traceparent header', async () => {
    const res = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'trace me too' }], max_tokens: 6 }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const returned = parseTraceparent(res.headers.get('traceparent'));
    expect(returned).toBeDefined();
    await billed(requestId);
    const byName = await spansOf(returned!.traceId);
    expectOneTrace(byName, requestId);
    const admission = spanOn(byName, 'admission.generate');
    expect(admission.parentSpanContext).toBeUndefined();
    expect(returned).toEqual({ traceId: admission.spanContext().traceId, spanId: admission.spanContext().spanId, flags: 1 });
    expectEventsInTrace(await eventsOf(requestId), returned!.traceId, byName);
  });

  it('ignores an invalid traceparent: the call succeeds in a new trace', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${system.apiKey}`);
    metadata.set('traceparent', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`);
    const { headers, requestId } = await generate(metadata);
    const returned = parseTraceparent(headers.get('traceparent')[0]);
    expect(returned?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(returned?.traceId).not.toBe('0'.repeat(32));
    await billed(requestId);
    const byName = await spansOf(returned!.traceId);
    expect(spanOn(byName, 'admission.generate').parentSpanContext).toBeUndefined();
  });
});
