import { makeEvent, PoolHealth, type PoolStatus } from '@switchyard/contracts';
import type { TopSnapshot } from '@switchyard/live-model';
import { describe, expect, it } from 'vitest';
import { consoleSnapshot, createDecisionLog, decisionRow } from './console-view.js';

const decision = (subject: string, action: string, reason = '') =>
  decisionRow(
    subject,
    makeEvent(
      { id: `d-${action}`, tenant: subject.split('.')[2]!, requestId: 'r1', nowMs: 5 },
      {
        $case: 'decision',
        decision: {
          service: subject.split('.')[1]!,
          action,
          reason,
          chosen: '',
          candidates: [],
          categories: [],
          ruleIds: [],
          policyVersion: '',
          latencyMs: 0,
          user: '',
        },
      },
    ),
  );

const top: TopSnapshot = {
  atMs: 10,
  windowMs: 60_000,
  heardMs: 10_000,
  tiers: [
    {
      tier: 'realtime',
      admittedPerS: 2,
      completedPerS: 2,
      rejectedPerS: 0,
      failedPerS: 0,
      counts: {},
      ttftMs: { p50: 1, p95: 2, p99: 3 },
      ttftAttainment: 1,
      e2eMs: { p50: 1, p95: 2, p99: 3 },
      tokensPerS: 40,
    },
    {
      tier: 'batch',
      admittedPerS: 1,
      completedPerS: 1,
      rejectedPerS: 0,
      failedPerS: 0,
      counts: {},
      ttftMs: { p50: 1, p95: 2, p99: 3 },
      ttftAttainment: 1,
      e2eMs: { p50: 1, p95: 2, p99: 3 },
      tokensPerS: 10,
    },
  ],
  pools: [{ pool: 'eu', healthyWorkers: 1, workers: 1, running: 4, waiting: 0, freeSlots: 12, kvUsed: 0.1, utilisation: 0.25, servedPerS: 3 }],
  tenants: [
    { tenant: 'globex', spendMicros: 20, spendPerHourMicros: 7_200, requests: 2 },
    { tenant: 'acme', spendMicros: 10, spendPerHourMicros: 3_600, requests: 1 },
  ],
};
const pools = [{ id: 'eu', health: PoolHealth.POOL_HEALTH_DRAINED, drained: true, drainReason: 'upgrade', healthyWorkers: 1, workers: 1 } as PoolStatus];

describe('console view', () => {
  it('lists refusals, blocks, placements and route changes, newest first, but not policy allows', () => {
    const log = createDecisionLog(2);
    for (const row of [
      decision('decisions.scheduler.acme', 'place'),
      decision('decisions.policy.acme', 'allow'),
      decision('decisions.admission.globex', 'refuse-rate', 'over 600 requests/min'),
      decision('decisions.routes.chat-large', 'rollback', 'canary error rate 20%'),
    ])
      if (row) log.add(row);
    expect(log.latest().map((d) => [d.service, d.action, d.tenant])).toEqual([
      ['routes', 'rollback', ''],
      ['admission', 'refuse-rate', 'globex'],
    ]);
  });

  it("shows an operator every tenant; another key the fleet and only its own tenant's spend and decisions", () => {
    const decisions = [decision('decisions.admission.globex', 'refuse-rate')!, decision('decisions.scheduler.acme', 'place')!];
    const operator = consoleSnapshot(top, pools, decisions, { keyId: 'ops-1', tenant: 'ops', operator: true });
    expect(operator.tenants.map((t) => t.tenant)).toEqual(['globex', 'acme']);
    expect(operator.decisions).toHaveLength(2);
    expect(operator.totals).toEqual({ requestsPerS: 3, tokensPerS: 50 });
    expect(operator.pools).toEqual([
      expect.objectContaining({ pool: 'eu', health: 'drained', drained: true, drainReason: 'upgrade', utilisation: 0.25, servedPerS: 3 }),
    ]);

    const acme = consoleSnapshot(top, pools, decisions, { keyId: 'acme-1', tenant: 'acme', operator: false });
    expect(acme.tenants.map((t) => t.tenant)).toEqual(['acme']);
    expect(acme.decisions.map((d) => d.tenant)).toEqual(['acme']);
    expect(acme.tiers).toHaveLength(2);
    expect(acme.pools).toHaveLength(1);
  });
});
