import { Counter, Gauge, Histogram, type Registry } from '@switchyard/telemetry';

export function createSchedulerMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  return {
    placed: new Counter({
      name: 'switchyard_scheduler_placed_total',
      help: 'Requests placed, per pool, tier and policy',
      labelNames: ['pool', 'tier', 'policy'],
      registers,
    }),
    rejected: new Counter({
      name: 'switchyard_scheduler_rejected_total',
      help: 'Requests rejected (load shed, unknown model, no pool)',
      labelNames: ['tier', 'kind'],
      registers,
    }),
    redecided: new Counter({
      name: 'switchyard_scheduler_redelivered_followed_total',
      help: 'Redelivered requests that repeated their recorded rejection instead of being judged again',
      labelNames: ['decision'],
      registers,
    }),
    deferred: new Counter({
      name: 'switchyard_scheduler_deferred_total',
      help: 'Placements put off (waiting for a healthy pool or idle capacity)',
      labelNames: ['tier'],
      registers,
    }),
    failover: new Counter({
      name: 'switchyard_scheduler_failover_total',
      help: 'Requests moved off a dead pool, by where they were found',
      labelNames: ['from', 'to', 'stage'],
      registers,
    }),
    rollbacks: new Counter({
      name: 'switchyard_scheduler_canary_rollbacks_total',
      help: 'Canaries rolled back automatically',
      labelNames: ['route'],
      registers,
    }),
    predictedTtft: new Histogram({
      name: 'switchyard_scheduler_predicted_ttft_seconds',
      help: 'Predicted TTFT of placed requests (simulated time)',
      labelNames: ['tier'],
      registers,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    }),
    workers: new Gauge({
      name: 'switchyard_scheduler_pool_workers',
      help: 'Workers of a pool by state (healthy, draining) as the scheduler sees their heartbeats; 0 healthy and 0 draining is a pool down',
      labelNames: ['pool', 'state'],
      registers,
    }),
    outstanding: new Gauge({ name: 'switchyard_scheduler_outstanding', help: 'Requests placed and not yet ended, per pool', labelNames: ['pool'], registers }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
