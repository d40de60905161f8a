import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// The operators' Prometheus and Grafana files: what `promtool` accepts, what the promtool unit
// tests prove about the alerts, and that every dashboard and rule queries a metric that exists.

const root = fileURLToPath(new URL('../..', import.meta.url));
const prometheus = join(root, 'deploy/prometheus');
const dashboards = join(root, 'deploy/grafana/dashboards');
const ruleFiles = readdirSync(join(prometheus, 'rules')).map((f) => join(prometheus, 'rules', f));
const testFiles = readdirSync(join(prometheus, 'tests')).map((f) => join(prometheus, 'tests', f));

/** Runs promtool; a machine without it fails the test (never skips it), saying how to get it. */
function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool is needed to check the Prometheus rules and dashboards: apt-get install prometheus (${r.error.message})`);
  return { status: r.status, output: `promtool ${args.join(' ')}\n${r.stdout}${r.stderr}` };
}

function expectPromtoolPasses(...args: string[]) {
  const { status, output } = promtool(...args);
  expect(status, output).toBe(0);
}

/** Every `switchyard_*` metric a service or package registers, with the series a histogram adds. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'gen') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(/name: '(switchyard_[a-z0-9_]+)'/g)) names.add(m[1]!);
      }
    }
  };
  walk(join(root, 'services'));
  walk(join(root, 'packages'));
  return names;
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

const rules = ruleFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules.map((r) => ({ file: f, ...r }))));
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const registered = registeredMetrics();

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads: what is left once strings, matchers, label lists, ranges and calls are gone. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((n) => !KEYWORDS.has(n.toLowerCase()));
}

function known(name: string): boolean {
  if (name === 'up' || recorded.has(name) || registered.has(name)) return true;
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
  return histogram !== null && registered.has(histogram[1]!);
}

describe('Prometheus configuration', () => {
  it('promtool accepts prometheus.yml and the rule files it loads', () => {
    expectPromtoolPasses('check', 'config', join(prometheus, 'prometheus.yml'));
    expectPromtoolPasses('check', 'rules', ...ruleFiles);
  });

  it('the alert unit tests pass: burn-rate alerts fire when a tier misses its objective and stay quiet when it does not', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    expectPromtoolPasses('test', 'rules', ...testFiles);
  });

  it('rules read only metrics that a service registers or another rule records', () => {
    expect(registered.has('switchyard_admission_ttft_seconds')).toBe(true);
    const unknown = rules.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !known(n))
        .map((n) => `${r.record ?? r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every alert links its runbook, and the runbook exists', () => {
    for (const r of rules.filter((r) => r.alert)) {
      const kebab = r.alert!.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
      const text = readFileSync(join(root, 'deploy/runbooks', `${kebab}.md`), 'utf8');
      expect(text, r.alert).toContain(`# ${r.alert}`);
      expect(readFileSync(r.file, 'utf8')).toContain(`runbook_url: deploy/runbooks/${kebab}.md`);
    }
  });
});

interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: { id: number; type: string; title: string; datasource: { uid: string }; targets: { expr: string; datasource: { uid: string } }[] }[];
}

describe('Grafana dashboards', () => {
  const files = readdirSync(dashboards).filter((f) => f.endsWith('.json'));

  it('are the four the operators use', () => {
    expect(files.sort()).toEqual(['money.json', 'overview.json', 'pools-gpus.json', 'tiers-slos.json']);
  });

  it('are valid dashboards with unique panel ids, on the provisioned datasource', () => {
    const uids = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(dashboards, f), 'utf8')) as Dashboard;
      expect(d.schemaVersion, f).toBe(39);
      expect(uids.has(d.uid), `${f}: uid ${d.uid} used twice`).toBe(false);
      uids.add(d.uid);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${f}: panel ids ${ids.join(',')}`).toBe(ids.length);
      for (const p of d.panels) {
        expect(['timeseries', 'stat', 'table'], `${f}: ${p.title}`).toContain(p.type);
        expect(p.targets.length, `${f}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource.uid, `${f}: ${p.title}`).toBe('prometheus');
      }
    }
  });

  it('query with PromQL that parses, on metrics that exist', () => {
    const targets = files.flatMap((f) =>
      (JSON.parse(readFileSync(join(dashboards, f), 'utf8')) as Dashboard).panels.flatMap((p) =>
        p.targets.map((t) => ({ where: `${f}: ${p.title}`, expr: t.expr })),
      ),
    );
    // promtool parses every expression when it checks them as recording rules.
    const dir = mkdtempSync(join(tmpdir(), 'dashboards-'));
    try {
      const file = join(dir, 'dashboards.rules.yml');
      const group = { name: 'dashboards', rules: targets.map((t, i) => ({ record: `dashboard:expr_${i}`, expr: t.expr })) };
      writeFileSync(file, JSON.stringify({ groups: [group] }));
      expectPromtoolPasses('check', 'rules', file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const unknown = targets.flatMap((t) =>
      metricNames(t.expr)
        .filter((n) => !known(n))
        .map((n) => `${t.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('the metric-name check catches a misspelt metric', () => {
    expect(metricNames('sum by (tier) (rate(switchyard_admision_requests_total{tier="x"}[5m])) / 1e6').filter((n) => !known(n))).toEqual([
      'switchyard_admision_requests_total',
    ]);
  });
});
