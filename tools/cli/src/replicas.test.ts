import { describe, expect, it } from 'vitest';
import { REPLICA_PORT_STEP, ScaleError, parseScale, replicaEnv, replicasOf } from './replicas.js';

const RUNNING = ['policy', 'billing', 'worker-simulator', 'admission'];

describe('parseScale', () => {
  it('reads repeated name=N values', () => {
    expect(parseScale(['worker-simulator=3', 'admission=2'], RUNNING)).toEqual({ 'worker-simulator': 3, admission: 2 });
  });

  it('names the known services when a name is unknown', () => {
    expect(() => parseScale(['workers=3'], RUNNING)).toThrow(
      new ScaleError('--scale workers=3: no service "workers"; the services are policy, billing, worker-simulator, admission'),
    );
  });

  it.each(['admission=0', 'admission=-1', 'admission=1.5', 'admission=two', 'admission='])('refuses %s: N must be a whole number of at least 1', (value) => {
    expect(() => parseScale([value], RUNNING)).toThrow(/N must be a whole number of at least 1/);
  });

  it('refuses a value without =', () => {
    expect(() => parseScale(['admission'], RUNNING)).toThrow(/expected name=N/);
  });

  it('refuses to scale policy, and says why; policy=1 is fine', () => {
    expect(() => parseScale(['policy=2'], RUNNING)).toThrow(/policy runs once: admission asks the one policy at POLICY_ADDR/);
    expect(parseScale(['policy=1'], RUNNING)).toEqual({ policy: 1 });
  });
});

describe('replicasOf', () => {
  it('labels replicas of a scaled service name-i, and leaves an unscaled service its own name', () => {
    expect(replicasOf(['policy', 'worker-simulator'], { 'worker-simulator': 2 }).map((r) => r.label)).toEqual([
      'policy',
      'worker-simulator-1',
      'worker-simulator-2',
    ]);
  });
});

describe('replicaEnv', () => {
  const env = { ADMISSION_LISTEN: '127.0.0.1:50051', HTTP_LISTEN: '127.0.0.1:8080', POLICY_ADDR: '127.0.0.1:50052', OPS_LISTEN: 'off', METRICS_PORT: '0' };

  it('keeps replica 1 on the ports it was given', () => {
    expect(replicaEnv(env, 1)).toBe(env);
  });

  it('moves every listen port of replica i by (i - 1) steps, and no address it calls', () => {
    expect(replicaEnv(env, 3)).toEqual({
      ...env,
      ADMISSION_LISTEN: `127.0.0.1:${50051 + 2 * REPLICA_PORT_STEP}`,
      HTTP_LISTEN: `127.0.0.1:${8080 + 2 * REPLICA_PORT_STEP}`,
    });
  });

  it('moves a fixed metrics port, and leaves 0 (a free port) alone', () => {
    expect(replicaEnv({ METRICS_PORT: '9464' }, 2).METRICS_PORT).toBe(String(9464 + REPLICA_PORT_STEP));
    expect(replicaEnv({ METRICS_PORT: '0' }, 2).METRICS_PORT).toBe('0');
  });
});
