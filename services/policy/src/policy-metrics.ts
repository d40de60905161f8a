import type { CheckTarget, CheckVerdict } from '@switchyard/policy-rules';
import { Counter, Histogram, type Registry } from '@switchyard/telemetry';

export interface PolicyMetrics {
  /** Counts one check; labels are tenant, target, action and category names only. */
  observe(tenant: string, target: CheckTarget, verdict: Pick<CheckVerdict, 'action' | 'matchCounts' | 'blockedBy'>, latencyMs: number): void;
  /** Counts one stored policy applied, rejected or removed. */
  reloaded(tenant: string, result: 'applied' | 'rejected' | 'removed'): void;
}

/**
 * Policy metrics. The block rate per tenant and category is
 * `switchyard_policy_blocks_total / switchyard_policy_checks_total` (see README).
 */
export function createPolicyMetrics(registry: Registry): PolicyMetrics {
  const registers = [registry];
  const checks = new Counter({
    name: 'switchyard_policy_checks_total',
    help: 'Policy checks by tenant, target (prompt/output) and resulting action',
    labelNames: ['tenant', 'target', 'action'],
    registers,
  });
  const blocks = new Counter({
    name: 'switchyard_policy_blocks_total',
    help: 'Blocked checks by tenant, target and each category that blocked',
    labelNames: ['tenant', 'target', 'category'],
    registers,
  });
  const matches = new Counter({
    name: 'switchyard_policy_matches_total',
    help: 'Detector matches by tenant, target and category',
    labelNames: ['tenant', 'target', 'category'],
    registers,
  });
  const latency = new Histogram({
    name: 'switchyard_policy_check_duration_seconds',
    help: 'Time inside the policy service per check: policy lookup, scan and redaction',
    labelNames: ['target'],
    buckets: [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.05],
    registers,
  });
  const reloads = new Counter({
    name: 'switchyard_policy_reloads_total',
    help: 'Stored policies applied, rejected as invalid, or removed',
    labelNames: ['tenant', 'result'],
    registers,
  });
  return {
    observe(tenant, target, verdict, latencyMs) {
      checks.inc({ tenant, target, action: verdict.action });
      for (const category of verdict.blockedBy) blocks.inc({ tenant, target, category });
      for (const [category, n] of Object.entries(verdict.matchCounts)) matches.inc({ tenant, target, category }, n);
      latency.observe({ target }, latencyMs / 1_000);
    },
    reloaded: (tenant, result) => reloads.inc({ tenant, result }),
  };
}
