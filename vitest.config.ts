import { defineConfig } from 'vitest/config';

const sources = ['packages/*/src/**', 'services/*/src/**', 'tools/*/src/**', 'bench/lib'];

/**
 * Tests that keep both cores busy for many seconds (bursts of thousands of streams, the stack
 * under load while its services are killed, thousands of hostile connections), and those whose
 * deadlines are tight (a killed service, or nats-server, serving again within 5 s of its
 * restart, a tenant's p99 beside its
 * baseline while others attack, a tenant's first token within 1 s while another floods, a NATS
 * cluster losing a node). They run last and alone: beside the others, one file's
 * deadlines would measure another file's load, not the code under test (nats-restart served
 * its first request 2.4-3.0 s after each return on a quiet machine, and past 5 s twice beside
 * other suites at a load average of 8-17).
 */
const saturating = [
  'tools/cli/src/burst-isolation.int.test.ts',
  'test/chaos/streaming-burst.test.ts',
  'test/e2e/analyst-run.test.ts',
  'test/chaos/kill-each-service.test.ts',
  'tools/cli/src/supervision.int.test.ts',
  'test/chaos/nats-restart.test.ts',
  'test/security/abuse.test.ts',
  'test/chaos/fairness.test.ts',
  'test/cluster/nats-cluster.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: sources.map((s) => `${s}/*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: [...sources.map((s) => `${s}/*.int.test.ts`), 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...saturating],
          // Each file starts its own servers; two cores cannot run many at once.
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'saturating',
          sequence: { groupOrder: 2 },
          include: saturating,
          maxWorkers: 1,
          testTimeout: 240_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
