/** Architecture rules checked by `pnpm lint` (see STYLE.md). */
const IO_LIBS = '^(@nats-io|@grpc|ioredis|bullmq|postgres|pino|prom-client|node:(fs|net|http|child_process))';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make start-up order and testing fragile.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-deep-imports-across-packages',
      severity: 'error',
      comment: 'Use the other package\'s index (its "exports"), never its files.',
      from: { path: '^(packages|services|tools)/([^/]+)/' },
      to: { path: '^(packages|services|tools)/([^/]+)/', pathNot: ['^$1/$2/', 'index\\.ts$'] },
    },
    {
      name: 'no-service-imports-service',
      severity: 'error',
      comment:
        'A service never imports another service (tests in it included): shared logic goes into a package, ' +
        'and a test that runs two services lives under test/. A workspace import (@switchyard/x) resolves to its folder.',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'fixtures-only-in-tests',
      severity: 'error',
      comment:
        'A test helper inside a package or service is named `*.fixture.ts`: only tests (and other fixtures) import it, ' +
        'so it never reaches production code or a package index. Vitest picks up only `*.test.ts`, never a fixture.',
      from: { pathNot: '\\.(test|fixture)\\.ts$|^test/|^bench/' },
      to: { path: '\\.fixture\\.ts$' },
    },
    {
      name: 'pure-domain-has-no-io',
      severity: 'error',
      comment: 'Domain logic takes time, ids and randomness as arguments and does no I/O.',
      from: {
        path: '(placement|routing|scoring|pool-state|load-tracker|canary|ops-model|batch-forming|quota|openai-format|check|pricing|perf-model|profile-table|validate|billable|text|policy-set|policy-document|output-guard|decision-event|disposition|engine|faults|sim-clock|recent-stats|preflight|worker-report)\\.ts$|/detectors/|services/billing/src/(period|posting|budget|invoice|reconciliation)\\.ts$|services/metering/src/(rollup|tier-memory)\\.ts$|packages/pricing/src/price-(usage|catalog)\\.ts$|packages/bus/src/micro-batch\\.ts$',
        pathNot: '\\.test\\.ts$',
      },
      to: { path: IO_LIBS, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'] },
  },
};
