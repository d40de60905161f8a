/** Architecture rules checked by `pnpm lint` (see STYLE.md). */
/**
 * I/O libraries, matched on where an import resolves: an installed library under node_modules (pnpm's
 * store included), a bare name when it is not installed where it is imported, or a Node built-in
 * (dependency-cruiser reports `node:fs` as `fs`).
 */
const IO_LIBS = [
  '(^|^node_modules/|/node_modules/)(@nats-io|@grpc|ioredis|bullmq|postgres|pino|prom-client)(/|$)',
  '^(node:)?(fs|net|https?|http2|child_process)(/|$)',
].join('|');

/**
 * Pure code lives in a folder named `domain/` anywhere under a service's or a package's `src/`
 * (`src/domain/`, `src/placement/domain/`). Groups: $1 services|packages, $2 its name, $3 the folder
 * up to and including `domain`, so a file's own domain tree is `^$1/$2/src/$3/`.
 */
const DOMAIN = '^(services|packages)/([^/]+)/src/(domain|.+/domain)/';

/**
 * Packages whose whole source is pure, so they need no `domain/` folder: pricing (periods, price
 * book, pricing a usage) imports nothing but @switchyard/contracts; live-model (the sliding-window
 * model of `switchyard top` and the console) nothing but contracts and pricing. perf-model (load-profiles reads
 * files), policy-rules (policy-store follows the bus's KV) and tokenizer (it reads the vocabulary
 * llama3-tokenizer-js bakes into its bundle) are not, so they have `domain/` folders.
 */
const PURE_PACKAGES = '^packages/(pricing|live-model)/src/';

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
      comment:
        'Code in a `domain/` folder (or a package listed as pure as a whole) takes time, ids and randomness as arguments ' +
        'and imports no I/O library; `import type` is fine. Tests beside it may.',
      from: { path: [DOMAIN, PURE_PACKAGES], pathNot: '\\.test\\.ts$' },
      to: { path: IO_LIBS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'domain-imports-only-domain',
      severity: 'error',
      comment:
        'Inside its own service or package, a `domain/` file imports only code from `domain/` folders, so no edge ' +
        'code (and none of its I/O) runs in it; `import type` of an edge file is fine, as it leaves nothing at run time. ' +
        'Other packages come through their index (rule no-deep-imports-across-packages).',
      from: { path: DOMAIN, pathNot: '\\.test\\.ts$' },
      to: { path: '^$1/$2/', pathNot: '^$1/$2/src/(domain|.+/domain)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // node_modules is not followed but not excluded either: an excluded module is dropped with its
    // dependencies, and pure-domain-has-no-io would never see an installed I/O library.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'] },
  },
};
