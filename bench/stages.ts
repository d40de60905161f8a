/**
 * `pnpm bench:stages [rate]`: where a first token's time goes, hop by hop, at a paced rate of
 * realtime requests (default 400/s, workers not sleeping). A tracing connection notes when each
 * request first shows up at each stage on the bus (policy decision, admitted, dispatched,
 * claimed in a batch, batched, first token sent) and the load generator when it sent the call
 * and got its first chunk; prints p50 / p90 / p99 of every step. The tracer costs some CPU of
 * its own, so totals run a little above `pnpm bench`'s.
 */
import { connectBus } from '@switchyard/bus';
import { TokenChunks, decodeEvent, type Event } from '@switchyard/contracts';
import { Tier } from '@switchyard/sdk';
import { startBenchStack } from './lib/bench-stack.js';
import { closedLoop, paced } from './lib/load.js';
import { fmt, summarize } from './lib/stats.js';

const rate = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 400);
const STAGES = ['sent', 'policy decided', 'admitted', 'dispatched', 'claimed', 'batched', 'first token sent', 'first token received'] as const;
type Stage = (typeof STAGES)[number];

async function main() {
  const bench = await startBenchStack((name, code) => console.log(`!! ${name} exited (${code})`));
  const seen = new Map<string, Partial<Record<Stage, number>>>();
  const mark = (requestId: string, stage: Stage, at = performance.now()) => {
    const times = seen.get(requestId) ?? {};
    times[stage] ??= at;
    seen.set(requestId, times);
  };
  let tracing = false;
  const generate = bench.generate(Tier.TIER_REALTIME, (e, call) => {
    if (!tracing) return;
    if (e.event?.$case === 'started') mark(call.requestId, 'sent', call.sentAt);
    else if (e.event?.$case === 'chunk') mark(call.requestId, 'first token received');
  });
  // The JIT warms up first: figures of a cold process measure V8's tier-up.
  await closedLoop(bench.generate(Tier.TIER_INTERNAL), 64, 10);

  const nc = await connectBus({ url: bench.nats.url, name: 'bench-stages' });
  const onEvent = (stage: Stage) => ({
    callback: (_e: unknown, m: { data: Uint8Array }) => {
      const event: Event = decodeEvent(m.data);
      if (event.payload?.$case === 'batchFormed') event.payload.batchFormed.requests.forEach((r) => mark(r.requestId, stage));
      else if (event.envelope?.requestId) mark(event.envelope.requestId, stage);
    },
  });
  nc.subscribe('decisions.policy.>', onEvent('policy decided'));
  nc.subscribe('requests.admitted.>', onEvent('admitted'));
  nc.subscribe('dispatch.>', onEvent('dispatched'));
  nc.subscribe('$KV.batching.req.>', { callback: (_e, m) => mark(m.subject.slice(m.subject.lastIndexOf('.') + 1), 'claimed') });
  nc.subscribe('batches.>', onEvent('batched'));
  nc.subscribe('_SY.relay.>', { callback: (_e, m) => TokenChunks.decode(m.data).chunks.forEach((c) => c.seq === 0 && mark(c.requestId, 'first token sent')) });
  await nc.flush();

  tracing = true;
  const run = await paced(generate, rate, 10);
  tracing = false;
  await new Promise((r) => setTimeout(r, 500));
  const total = summarize(run.latencies);
  console.log(`realtime at ${rate} req/s: send to first token p50 ${fmt(total.p50, 2)} ms, p99 ${fmt(total.p99, 2)} ms (${run.failed} failed)`);
  for (let i = 1; i < STAGES.length; i++) {
    const from = STAGES[i - 1]!;
    const to = STAGES[i]!;
    const steps = [...seen.values()].flatMap((t) => (t[from] !== undefined && t[to] !== undefined ? [t[to]! - t[from]!] : []));
    const s = summarize(steps);
    console.log(
      `  ${`${from} -> ${to}`.padEnd(42)} p50 ${fmt(s.p50, 2).padStart(6)}  p90 ${fmt(s.p90, 2).padStart(6)}  p99 ${fmt(s.p99, 2).padStart(6)} ms  (${steps.length} requests)`,
    );
  }
  await nc.close();
  await bench.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
