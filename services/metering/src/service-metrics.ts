import { Counter, Histogram, type Registry } from '@switchyard/telemetry';
import type { MeteredUsage } from './domain/rollup.js';

/**
 * The user-facing service metrics metering keeps, per tier. Rates come from Prometheus:
 *   completion rate   = rate(completed{tier}) / rate(admitted{tier})
 *   rejection rate    = rate(terminated{outcome="rejected",tier}) / rate(admitted{tier})
 *   policy block rate = rate(policy_checks{action="block"}) / rate(policy_checks)
 * Counters are incremented by whichever replica consumed the event, so sums across
 * replicas are exact.
 */
export function createServiceMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  const ttft = new Histogram({
    name: 'switchyard_metering_ttft_ms',
    help: 'Time to first token of completed requests, ms',
    labelNames: ['tier'],
    buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    registers,
  });
  const completed = new Counter({
    name: 'switchyard_metering_requests_completed_total',
    help: 'Completed requests metered (once per usage id)',
    labelNames: ['tier'],
    registers,
  });
  const tokens = new Counter({ name: 'switchyard_metering_tokens_total', help: 'Tokens metered', labelNames: ['tier', 'kind'], registers });
  const gpuSeconds = new Counter({ name: 'switchyard_metering_gpu_seconds_total', help: 'GPU-seconds metered', labelNames: ['tier', 'pool'], registers });
  const unfinished = new Counter({
    name: 'switchyard_metering_attempts_unfinished_total',
    help: 'Attempts that used a GPU and did not complete, metered once per usage id (cancelled and expired bill their tokens; failed bill none)',
    labelNames: ['tier', 'outcome'],
    registers,
  });
  const platformGpuSeconds = new Counter({
    name: 'switchyard_metering_platform_gpu_seconds_total',
    help: 'GPU-seconds of failed attempts, billed to no tenant: the platform pays for them (also in switchyard_metering_gpu_seconds_total)',
    labelNames: ['pool'],
    registers,
  });
  const duplicates = new Counter({ name: 'switchyard_metering_duplicates_total', help: 'Usage events metered before (redeliveries, replays)', registers });
  const admitted = new Counter({ name: 'switchyard_metering_requests_admitted_total', help: 'Requests admitted', labelNames: ['tier'], registers });
  const terminated = new Counter({
    name: 'switchyard_metering_requests_terminated_total',
    help: 'Requests by terminal outcome',
    labelNames: ['tier', 'outcome'],
    registers,
  });
  const policy = new Counter({ name: 'switchyard_metering_policy_checks_total', help: 'Policy checks by action', labelNames: ['action'], registers });

  return {
    metered(u: MeteredUsage) {
      if (u.outcome === 'completed') {
        ttft.observe({ tier: u.tier }, u.ttftMs);
        completed.inc({ tier: u.tier });
      } else {
        unfinished.inc({ tier: u.tier, outcome: u.outcome });
        if (u.outcome === 'failed') platformGpuSeconds.inc({ pool: u.pool }, u.gpuMicros / 1e6);
      }
      tokens.inc({ tier: u.tier, kind: 'input' }, u.inputTokens);
      tokens.inc({ tier: u.tier, kind: 'cached_input' }, u.cachedInputTokens);
      tokens.inc({ tier: u.tier, kind: 'output' }, u.outputTokens);
      gpuSeconds.inc({ tier: u.tier, pool: u.pool }, u.gpuMicros / 1e6);
    },
    duplicate: (n: number) => duplicates.inc(n),
    admitted: (tier: string) => admitted.inc({ tier }),
    terminated: (tier: string, outcome: string) => terminated.inc({ tier, outcome }),
    policyCheck: (action: string) => policy.inc({ action: action || 'unknown' }),
  };
}

export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;
