import { Outcome, Tier, type UsageRecorded } from '@switchyard/contracts';

/**
 * A completed attempt's usage as a worker records it, with defaults a test need not spell:
 * tenant `acme`, realtime, Llama 3.1 8B on pool `gpu-a`, 1,000 input and 500 output tokens.
 * `overrides` set what the test is about.
 */
export const testUsageRecorded = (overrides: Partial<UsageRecorded> = {}): UsageRecorded => ({
  usageId: 'u1',
  requestId: 'r1',
  tenant: 'acme',
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'gpu-a',
  workerId: 'w0',
  usage: { inputTokens: 1_000, cachedInputTokens: 0, outputTokens: 500 },
  gpuMs: 120,
  queueMs: 3,
  ttftMs: 40,
  totalMs: 200,
  outcome: Outcome.OUTCOME_COMPLETED,
  ...overrides,
});
