import type { BillableUsage, UsageRecorded } from '@switchyard/contracts';

/** Turns what a worker measured into the quantities billing prices. */
export function toBillable(usage: UsageRecorded, recordedUnixMs: number): BillableUsage {
  return {
    usageId: usage.usageId,
    requestId: usage.requestId,
    tenant: usage.tenant,
    feature: usage.feature,
    model: usage.model,
    tier: usage.tier,
    pool: usage.pool,
    usage: usage.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 },
    gpuSeconds: usage.gpuMs / 1000,
    recordedUnixMs,
  };
}
