import { poolSchema } from '@switchyard/config';
import type { PerfModel } from '@switchyard/perf-model';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { defaultScheduling } from '@switchyard/scheduler';
import type { TraceRow } from '../trace-format.js';
import type { ForecastOptions } from './forecast.js';

/** A made-up GPU: 20 ms a decode step plus 1 ms a sequence, 0.1 ms a prompt token, room for 100,000 tokens. */
export const perfModel: PerfModel = {
  model: 'llama-3.1-8b',
  decodeMs: (batch) => (batch === 0 ? 0 : 20 + batch),
  prefillMs: (tokens) => 0.1 * tokens,
  chunkContextMs: () => 0,
  mixedMs: (batch, prefill) => (batch === 0 ? 0 : 20 + batch) + 0.1 * prefill,
  kvCapacityTokens: () => 100_000,
  allReduceMs: () => 0,
};
export const pool = poolSchema.parse({
  id: 'tiny',
  provider: 'aws',
  region: 'r1',
  gpu: 'h100-80gb',
  model: 'llama-3.1-8b',
  workers: 1,
  capacityClass: 'on-demand',
  pricePerGpuHour: 3.6,
  slotsPerWorker: 4,
});
/** One request every 2 s of trace time for 20 minutes: a 200-token prompt, 50 tokens out (about 1.1 s on the GPU alone). */
export const rows: TraceRow[] = Array.from({ length: 600 }, (_, i) => ({ line: i + 2, atMs: i * 2_000, inputTokens: 200, outputTokens: 50 }));
export const scheduling = defaultScheduling();
export const options: ForecastOptions = {
  rows,
  scales: [1],
  pools: [pool],
  perf: new Map([[pool.id, perfModel]]),
  scheduling,
  model: 'llama-3.1-8b',
  book: DEFAULT_PRICE_BOOK,
  durationS: 60,
  tierMix: { realtime: 60, internal: 30, batch: 10 },
  tenants: ['acme', 'globex'],
  feature: 'chat',
  seed: 7,
  maxPromptTokens: 32_768,
  maxOutputTokens: 4_096,
  target: 0.99,
};
