import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Issue #23: no usage, billing or request fact travels over core NATS, where a client that is
 * disconnected (a nats-server restart) buffers or drops a publish and nobody learns of it.
 *
 * Why a check of the code rather than of traffic alone: a run can only show that the publishes
 * it happened to make reached their streams; the code shows that there is no other way to
 * publish. Facts go through `publishEvent` (packages/bus), which waits for the stream's PubAck
 * and retries under the same msgID, so a fact is either stored or its publisher hears that it
 * was not. This test lists every raw NATS publish in the production code (`<x>.publish`,
 * `<x>.request`, `<x>.requestMany`, `emitEvent`) with its subject; the list must equal the
 * reviewed one below, each entry a publish that is no usage, billing or request fact. A new
 * raw publish fails here until someone reviews it and adds it with its reason. The run-time
 * half is in `test/chaos/nats-restart.test.ts`.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const PRODUCTION = ['packages', 'services', 'tools'];

/** A raw publish found in the code: where, through what, on which subject (as written). */
interface RawPublish {
  readonly file: string;
  readonly call: string;
  readonly subject: string;
}

/** The reviewed raw publishes, none a usage, billing or request fact. */
const REVIEWED: readonly (RawPublish & { readonly why: string })[] = [
  { file: 'packages/bus/src/publish.ts', call: 'js.publish', subject: 'subject', why: 'publishEvent itself: awaits the PubAck, retries under one msgID' },
  { file: 'packages/bus/src/publish.ts', call: 'nc.publish', subject: 'subject', why: 'emitEvent: decision telemetry only (its callers are checked below)' },
  {
    file: 'packages/bus/src/dead-letter.ts',
    call: 'js.publish',
    subject: 'subjects.deadLetter(stream, durable)',
    why: 'JetStream with an awaited ack, before the original is termed',
  },
  {
    file: 'services/admission/src/generation.ts',
    call: 'deps.nc.publish',
    subject: 'subjects.cancelRequest(requestId)',
    why: 'a command to workers; the outcome is a LIFECYCLE fact',
  },
  { file: 'packages/worker-kit/src/outcomes.ts', call: 'nc.publish', subject: 'subject', why: 'token chunks to a relay inbox (DESIGN §3)' },
  { file: 'packages/worker-kit/src/outcomes.ts', call: 'nc.publish', subject: 'request.inbox', why: 'token chunks to a request inbox (DESIGN §3)' },
  {
    file: 'tools/cli/src/ops.ts',
    call: 'nc.requestMany',
    subject: 'subject',
    why: 'an operator fault command to workers (subjects.workerControl), replies awaited',
  },
  {
    file: 'services/worker-simulator/src/kv-events.ts',
    call: 'nc.publish',
    subject: 'subject',
    why: "KV events of a worker's prefix cache (subjects.kvEvents): a placement hint; a lost one is seen by its number and answered with a snapshot",
  },
  {
    file: 'services/scheduler/src/placement/prefix-cache-view.ts',
    call: 'deps.nc.publish',
    subject: 'subjects.kvResync',
    why: 'asks the workers for snapshots of their prefix caches: a command, no fact',
  },
  // Not NATS at all: the name only looks like a publish.
  { file: 'services/batch/src/queues.ts', call: 'jobIds.request', subject: 'batchId', why: 'a BullMQ job id, one per line' },
  { file: 'services/batch/src/queues.ts', call: 'jobIds.request', subject: 'batchId', why: 'a BullMQ job id, one per line' },
];

const RAW_METHODS = new Set(['publish', 'request', 'requestMany']);

/** Every raw publish in one file's source. */
function rawPublishes(file: string, source: string): RawPublish[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: RawPublish[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const subjectAt = (i: number) => node.arguments[i]?.getText(sf) ?? '';
      if (ts.isPropertyAccessExpression(callee) && RAW_METHODS.has(callee.name.text)) {
        found.push({ file, call: callee.getText(sf), subject: subjectAt(0) });
      } else if (ts.isIdentifier(callee) && callee.text === 'emitEvent') {
        found.push({ file, call: 'emitEvent', subject: subjectAt(1) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function productionFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'gen' || name === 'dist') return [];
    if (statSync(path).isDirectory()) return productionFiles(path);
    return /\.(m?ts)$/.test(name) && !/\.(test|fixture)\.ts$/.test(name) && !name.endsWith('.d.ts') && path.includes('/src/') ? [path] : [];
  });
}

describe('facts travel on JetStream only', () => {
  const all = PRODUCTION.flatMap((d) => productionFiles(join(ROOT, d))).flatMap((path) => rawPublishes(relative(ROOT, path), readFileSync(path, 'utf8')));
  const key = (p: RawPublish) => `${p.file} ${p.call}(${p.subject})`;

  it('every raw NATS publish in the code is a reviewed one that carries no usage, billing or request fact', () => {
    const direct = all.filter((p) => p.call !== 'emitEvent');
    expect(direct.map(key).sort()).toEqual(REVIEWED.map(key).sort());
  });

  it('emitEvent (no ack) carries decision telemetry only', () => {
    const emits = all.filter((p) => p.call === 'emitEvent');
    expect(emits.length).toBeGreaterThan(0);
    expect(emits.filter((p) => !p.subject.startsWith('subjects.decision(')).map(key)).toEqual([]);
  });

  it('finds a fact published on core NATS, directly or through emitEvent (the check can fail)', () => {
    const planted = [
      'await publishEvent(js, subjects.usageRecorded(tenant), event);',
      'nc.publish(subjects.usageRecorded(tenant), data);',
      'deps.nc.request(`billing.usage.${tenant}`, data);',
      'emitEvent(nc, subjects.billingBudget(tenant), event);',
    ].join('\n');
    expect(rawPublishes('planted.ts', planted).map(key)).toEqual([
      'planted.ts nc.publish(subjects.usageRecorded(tenant))',
      'planted.ts deps.nc.request(`billing.usage.${tenant}`)',
      'planted.ts emitEvent(subjects.billingBudget(tenant))',
    ]);
  });
});
