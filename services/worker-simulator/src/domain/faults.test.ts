import { WorkerFault, WorkerFaultKind } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { NO_FAULTS, activeFaults, applyFault, cutPoint, parseFaultCommand } from './faults.js';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const command = (kind: WorkerFaultKind, fields: Partial<WorkerFault> = {}): WorkerFault => ({
  kind,
  factor: 0,
  fraction: 0,
  afterTokens: 0,
  durationMs: 0,
  ...fields,
});

describe('fault commands', () => {
  it('reads what an operator types with nats pub, and the protobuf form', () => {
    expect(parseFaultCommand(json({ kind: 'slowdown', factor: 3 }))).toEqual(command(WorkerFaultKind.WORKER_FAULT_KIND_SLOWDOWN, { factor: 3 }));
    expect(parseFaultCommand(json({ kind: 'cut-stream', after_tokens: 8, durationMs: 500 }))).toEqual(
      command(WorkerFaultKind.WORKER_FAULT_KIND_CUT_STREAM, { afterTokens: 8, durationMs: 500 }),
    );
    expect(parseFaultCommand(json({ kind: 'WORKER_FAULT_KIND_CRASH' })).kind).toBe(WorkerFaultKind.WORKER_FAULT_KIND_CRASH);
    const binary = WorkerFault.encode(command(WorkerFaultKind.WORKER_FAULT_KIND_ERROR_RATE, { fraction: 0.25 })).finish();
    expect(parseFaultCommand(binary)).toEqual(command(WorkerFaultKind.WORKER_FAULT_KIND_ERROR_RATE, { fraction: 0.25 }));
  });

  it('refuses commands with a message that says what to fix', () => {
    expect(() => parseFaultCommand(json({ kind: 'explode' }))).toThrow(
      /kind must be one of status, crash, hang, slowdown, error-rate, cut-stream, drain, clear;/,
    );
    expect(() => parseFaultCommand(json({ factor: 2 }))).toThrow(/"kind" is missing/);
    expect(() => parseFaultCommand(json({ kind: 'slowdown', facto: 2 }))).toThrow(/unknown field "facto"/);
    expect(() => parseFaultCommand(json({ kind: 'hang', durationMs: -1 }))).toThrow(/>= 0/);
    expect(() => parseFaultCommand(new TextEncoder().encode('{nope'))).toThrow(/not valid JSON/);
    expect(() => applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_SLOWDOWN), 0)).toThrow(/factor > 0/);
    expect(() => applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_ERROR_RATE, { fraction: 1.5 }), 0)).toThrow(/0\.\.1/);
  });
});

describe('fault state', () => {
  it('keeps faults until cleared, or for their duration', () => {
    let f = applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_SLOWDOWN, { factor: 4, durationMs: 1_000 }), 10_000);
    f = applyFault(f, command(WorkerFaultKind.WORKER_FAULT_KIND_ERROR_RATE, { fraction: 0.5 }), 10_000);
    f = applyFault(f, command(WorkerFaultKind.WORKER_FAULT_KIND_DRAIN), 10_000);
    expect(activeFaults(f, 10_999)).toMatchObject({ slowdown: 4, errorFraction: 0.5, draining: true, hung: false, crashed: false });
    expect(activeFaults(f, 11_000)).toMatchObject({ slowdown: 1, errorFraction: 0.5, draining: true });
    expect(activeFaults(applyFault(f, command(WorkerFaultKind.WORKER_FAULT_KIND_STATUS), 11_000), 11_000)).toEqual(activeFaults(f, 11_000));
    expect(activeFaults(applyFault(f, command(WorkerFaultKind.WORKER_FAULT_KIND_CLEAR), 11_000), 11_000)).toEqual(activeFaults(NO_FAULTS, 0));
  });

  it('a crash wipes other faults and ends at its restart time, or never without one', () => {
    const slow = applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_SLOWDOWN, { factor: 2 }), 0);
    const crashed = applyFault(slow, command(WorkerFaultKind.WORKER_FAULT_KIND_CRASH, { durationMs: 300 }), 1_000);
    expect(activeFaults(crashed, 1_299)).toMatchObject({ crashed: true, slowdown: 1 });
    expect(activeFaults(crashed, 1_300).crashed).toBe(false);
    expect(activeFaults(applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_CRASH), 0), 1e12).crashed).toBe(true);
  });

  it('cuts the chosen share of streams before their end, at the asked token or half way', () => {
    const cut = activeFaults(applyFault(NO_FAULTS, command(WorkerFaultKind.WORKER_FAULT_KIND_CUT_STREAM, { fraction: 0.3 }), 0), 0).cut;
    expect(cut).toEqual({ fraction: 0.3, afterTokens: 0 });
    expect(cutPoint(64, cut, 0.29)).toBe(32);
    expect(cutPoint(64, cut, 0.3)).toBeUndefined();
    expect(cutPoint(64, { fraction: 1, afterTokens: 10 }, 0.99)).toBe(10);
    expect(cutPoint(8, { fraction: 1, afterTokens: 10 }, 0)).toBe(7);
    expect(cutPoint(64, undefined, 0)).toBeUndefined();
  });
});
