import { randomBytes } from 'node:crypto';
import { connectBus, jetstream, openBucket, provisionStreams, publishEvent, type JetStreamClient, type KV, type NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import {
  batchFormed,
  Outcome,
  RequestTerminated,
  TokenChunk,
  buckets,
  decodeEvent,
  makeEvent,
  streams,
  subjects,
  type Event,
  type RequestSpec,
  type UsageRecorded,
  type WorkerFaultReply,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, testPool as sharedTestPool, waitFor, type TestServer, testRequestSpec } from '@switchyard/testing';
import type { StepReport } from './domain/engine.js';
import { createWorkerSimulator, type WorkerSimulator, type WorkerSimulatorDeps } from './service.js';

/** Shared by the worker simulator's `*.int.test.ts` files: a private NATS and helpers to drive workers through it. */
export interface Harness {
  readonly nats: TestServer;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly kv: KV;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const nats = await startNats();
  const nc = await connectBus({ url: nats.url, name: 'worker-test' });
  const js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  const kv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  return { nats, nc, js, kv, close: async () => (await nc.close(), await nats.dispose()) };
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export const testPool = (overrides: Partial<PoolSpec> = {}): PoolSpec => sharedTestPool({ id: unique('pool'), ...overrides });

export function requestSpec(tenant: string, i: number, overrides: Partial<RequestSpec> = {}): RequestSpec {
  return testRequestSpec(`req-${tenant}-${i}`, { tenant, prompt: 'p', promptTokens: 128, maxTokens: 16, seed: 1_000 + i, ...overrides });
}

export async function publishBatch(js: JetStreamClient, pool: string, requests: RequestSpec[]): Promise<void> {
  const batchId = unique('batch');
  const first = requests[0]!;
  await publishEvent(
    js,
    subjects.batches(pool),
    makeEvent(
      { id: batchId, tenant: first.tenant, requestId: first.requestId, nowMs: Date.now() },
      {
        $case: 'batchFormed',
        batchFormed: batchFormed({ batchId, pool, requests }),
      },
    ),
  );
}

export interface Simulator {
  readonly sim: WorkerSimulator;
  readonly steps: Array<StepReport & { worker: string }>;
}

/** Starts a simulator with fault commands on: these tests drive workers through them (`options.faults: false` turns them off). */
export async function startSimulator(h: Harness, pools: PoolSpec[], options: Partial<WorkerSimulatorDeps> = {}): Promise<Simulator> {
  const steps: Simulator['steps'] = [];
  const sim = createWorkerSimulator({
    nc: h.nc,
    js: h.js,
    poolsKv: h.kv,
    pools,
    logger: createLogger({ service: 'worker-simulator', level: 'silent' }),
    instanceId: unique('i'),
    speed: 'max',
    faults: true,
    onStep: (step, w) => steps.push({ ...step, worker: w.id }),
    ...options,
  });
  await sim.start();
  return { sim, steps };
}

/** The usual scene of a test: a fresh tenant, one pool, a simulator serving it, and a watch on the tenant. */
export async function onePool(h: Harness, poolOverrides: Partial<PoolSpec> = {}, options: Partial<WorkerSimulatorDeps> = {}) {
  const tenant = unique('t');
  const pool = testPool(poolOverrides);
  const sim = await startSimulator(h, [pool], options);
  return { tenant, pool, sim, seen: watch(h.nc, tenant) };
}

/** Token chunks and terminal events as a caller sees them, over core NATS. */
export function watch(nc: NatsConnection, tenant: string) {
  const chunks = new Map<string, Array<TokenChunk & { atMs: number }>>();
  const terminals = new Map<string, RequestTerminated>();
  const chunkSub = nc.subscribe('_SY.tokens.>', {
    callback: (_e, msg) => {
      const c = TokenChunk.decode(msg.data);
      chunks.set(c.requestId, [...(chunks.get(c.requestId) ?? []), { ...c, atMs: Date.now() }]);
    },
  });
  const terminalSub = nc.subscribe(`requests.*.${tenant}`, {
    callback: (_e, msg) => {
      const event = decodeEvent(msg.data);
      if (event.payload?.$case === 'requestTerminated' && !terminals.has(event.payload.requestTerminated.requestId)) {
        terminals.set(event.payload.requestTerminated.requestId, event.payload.requestTerminated);
      }
    },
  });
  return {
    chunks: (requestId: string) => chunks.get(requestId) ?? [],
    terminal: (requestId: string, timeoutMs = 15_000) => waitFor(`terminal of ${requestId}`, () => terminals.get(requestId), timeoutMs),
    close: () => (chunkSub.unsubscribe(), terminalSub.unsubscribe()),
  };
}

/** Events as stored on a stream under `subject` (after de-duplication), read from the start. */
export async function stored(js: JetStreamClient, stream: string, subject: string): Promise<Event[]> {
  const info = await (await js.jetstreamManager()).streams.info(stream, { subjects_filter: subject });
  const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (count === 0) return [];
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  const events: Event[] = [];
  for await (const m of await consumer.fetch({ max_messages: count, expires: 2_000 })) events.push(decodeEvent(m.data));
  return events;
}

export const terminalsOf = (events: Event[]) => events.flatMap((e) => (e.payload?.$case === 'requestTerminated' ? [e.payload.requestTerminated] : []));
export const usagesOf = (events: Event[]): UsageRecorded[] => events.flatMap((e) => (e.payload?.$case === 'usageRecorded' ? [e.payload.usageRecorded] : []));

/** Sends an operator command as `nats req` would and returns the (first) worker's reply. */
export async function fault(nc: NatsConnection, subject: string, body: Record<string, unknown>): Promise<WorkerFaultReply> {
  const reply = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 2_000 });
  return JSON.parse(new TextDecoder().decode(reply.data)) as WorkerFaultReply;
}

export { Outcome };
