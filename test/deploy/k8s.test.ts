import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * No cluster runs in CI: every manifest under deploy/k8s is checked against the Kubernetes API
 * schemas (kubernetes-models), then for what would break a rollout without a schema error: a
 * selector that matches no pod, an autoscaler aimed at nothing, a pod without probes.
 */
const root = resolve(import.meta.dirname, '../..');
const dir = join(root, 'deploy', 'k8s');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const manifests: Array<{ file: string; doc: Manifest }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return { file, doc: d.toJS() as Manifest };
  }),
);
const ofKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);

type Workload = Manifest & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Array<{
          name: string;
          ports?: Array<{ name?: string; containerPort: number }>;
          readinessProbe?: { httpGet?: { path: string; port: string | number } };
          livenessProbe?: { httpGet?: { path: string; port: string | number } };
          resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
        }>;
      };
    };
  };
};
const deployments = () => ofKind('Deployment') as Workload[];
const workloads = () => [...deployments(), ...(ofKind('StatefulSet') as Workload[])];
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/k8s', () => {
  it('lists every manifest file in kustomization.yaml', () => {
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`, m.doc] as const))(
    '%s is valid against the Kubernetes schema',
    (_name, doc) => {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `a model for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc as never).validate()).not.toThrow();
    },
  );

  it('deploys every service', () => {
    expect(deployments().map((d) => d.metadata.name)).toEqual(
      expect.arrayContaining(['admission', 'policy', 'scheduler', 'batcher', 'worker-simulator', 'metering', 'billing', 'batch']),
    );
  });

  it('gives every container of every workload readiness and liveness probes and resource requests', () => {
    for (const w of workloads()) {
      for (const c of w.spec.template.spec.containers) {
        const where = `${w.kind} ${w.metadata.name}/${c.name}`;
        expect(c.readinessProbe, `${where} readiness`).toBeDefined();
        expect(c.livenessProbe, `${where} liveness`).toBeDefined();
        expect(c.resources?.requests?.cpu, `${where} cpu request`).toBeDefined();
        expect(c.resources?.requests?.memory, `${where} memory request`).toBeDefined();
        expect(c.resources?.limits?.memory, `${where} memory limit`).toBeDefined();
      }
    }
  });

  it("probes every service's /healthz on the port it serves metrics on (METRICS_PORT)", () => {
    const metricsPort = Number(ofKind('ConfigMap').find((c) => c.metadata.name === 'switchyard-env')!.data!.METRICS_PORT);
    for (const d of deployments()) {
      const c = d.spec.template.spec.containers[0]!;
      const port = c.ports!.find((p) => p.name === c.readinessProbe!.httpGet!.port);
      expect(port?.containerPort, d.metadata.name).toBe(metricsPort);
      expect(c.readinessProbe!.httpGet!.path, d.metadata.name).toBe('/healthz');
      expect(c.livenessProbe!.httpGet!.path, d.metadata.name).toBe('/healthz');
    }
  });

  it('selects its own pods in every Deployment and StatefulSet', () => {
    for (const w of workloads()) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
  });

  it('points every Service at the pods of some workload, on ports those pods name', () => {
    for (const s of ofKind('Service') as Array<Manifest & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string | number }> } }>) {
      const target = workloads().find((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
      expect(target, `Service ${s.metadata.name} selects a workload`).toBeDefined();
      const named = target!.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of s.spec.ports) {
        expect(
          named.some((n) => n.name === p.targetPort || n.containerPort === p.targetPort),
          `Service ${s.metadata.name} port ${p.targetPort}`,
        ).toBe(true);
      }
    }
  });

  it('gives admission gRPC and HTTP Services, and policy, billing and batch theirs', () => {
    const services = ofKind('Service') as Array<Manifest & { spec: { ports: Array<{ port: number }> } }>;
    const ports = (name: string) => services.find((s) => s.metadata.name === name)?.spec.ports.map((p) => p.port);
    expect(ports('admission')).toEqual(expect.arrayContaining([50051, 8080]));
    expect(ports('policy')).toEqual([50052]);
    expect(ports('billing')).toEqual([50053]);
    expect(ports('batch')).toEqual(expect.arrayContaining([50055, 8081]));
  });

  it('aims every PodDisruptionBudget at the pods of some workload', () => {
    const pdbs = ofKind('PodDisruptionBudget') as Array<Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }>;
    expect(pdbs.length).toBeGreaterThan(0);
    for (const p of pdbs) {
      expect(
        workloads().some((w) => matches(p.spec.selector.matchLabels, w.spec.template.metadata.labels)),
        `PDB ${p.metadata.name}`,
      ).toBe(true);
    }
  });

  it('autoscales admission and worker-simulator, each HPA aimed at an existing Deployment', () => {
    const hpas = ofKind('HorizontalPodAutoscaler') as Array<Manifest & { spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string } } }>;
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['admission', 'worker-simulator']);
    for (const h of hpas) {
      expect(h.spec.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
      expect(
        deployments().some((d) => d.metadata.name === h.spec.scaleTargetRef.name),
        `HPA ${h.metadata.name}`,
      ).toBe(true);
    }
  });

  it('runs NATS as a 3-node StatefulSet with a volume for JetStream', () => {
    const nats = ofKind('StatefulSet').find((s) => s.metadata.name === 'nats') as Workload & { spec: { replicas: number; volumeClaimTemplates: unknown[] } };
    expect(nats.spec.replicas).toBe(3);
    expect(nats.spec.volumeClaimTemplates.length).toBe(1);
  });

  it('carries deploy/pools.yaml and the NATS configuration word for word', () => {
    const data = (name: string) => ofKind('ConfigMap').find((c) => c.metadata.name === name)!.data!;
    expect(data('switchyard-pools')['pools.yaml']).toBe(readFileSync(join(root, 'deploy', 'pools.yaml'), 'utf8'));
    expect(data('nats-config')['nats.conf']).toBe(readFileSync(join(root, 'deploy', 'nats', 'cluster', 'nats.conf'), 'utf8'));
    expect(data('nats-config')['users.conf']).toBe(readFileSync(join(root, 'deploy', 'nats', 'users.conf'), 'utf8'));
  });

  it('gives every NATS user a service logs in as a password in the Secret template, and no real secret', () => {
    const secrets = ofKind('Secret') as Array<Manifest & { stringData: Record<string, string> }>;
    const keys = secrets.flatMap((s) => Object.keys(s.stringData));
    for (const d of deployments()) {
      const env = JSON.stringify(d.spec.template.spec.containers[0]);
      const key = /secretKeyRef":\{"name":"switchyard-nats","key":"(NATS_[A-Z_]+_PASSWORD)"/.exec(env)?.[1];
      expect(key && keys.includes(key), `${d.metadata.name}'s NATS password`).toBe(true);
    }
    for (const s of secrets) {
      for (const [k, v] of Object.entries(s.stringData)) if (/PASSWORD|API_KEY|DATABASE_URL/.test(k)) expect(v, k).toMatch(/change-me|0{64}/);
    }
  });
});
