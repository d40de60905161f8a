import { createPolicyClient, type PolicyClient } from '@switchyard/admission';
import { connectBus, provisionStreams, jetstream, type NatsConnection } from '@switchyard/bus';
import { PolicyAction, isDomainError, streams } from '@switchyard/contracts';
import { createPolicy, type Policy } from '@switchyard/policy';
import { createLogger } from '@switchyard/telemetry';
import { freePort, startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let nats: TestServer;
let nc: NatsConnection;
let address: string;
let policy: Policy | undefined;
let client: PolicyClient;

const startPolicy = async () => {
  policy = createPolicy({ nc, logger: createLogger({ service: 'policy', level: 'silent' }), listen: address });
  await policy.start();
};

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'policy-client-test' });
  await provisionStreams(await jetstream(nc).jetstreamManager(), Object.values(streams));
  address = `127.0.0.1:${await freePort()}`;
  await startPolicy();
  client = createPolicyClient(address, 1_000);
}, 60_000);

afterAll(async () => {
  client?.close();
  await policy?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe('policy client (one CheckStream for many checks)', () => {
  it('answers 300 concurrent checks, each with the verdict on its own text', async () => {
    const texts = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? `note ${i} for user${i}@example.com` : `plain note ${i}`));
    const verdicts = await Promise.all(texts.map((t, i) => client.check('acme', `req-${i}`, t)));
    verdicts.forEach((v, i) => {
      if (i % 3 === 0) {
        expect(v.action).toBe(PolicyAction.POLICY_ACTION_REDACT);
        expect(v.redactedText).toBe(`note ${i} for [REDACTED:email]`);
      } else {
        expect(v.action).toBe(PolicyAction.POLICY_ACTION_ALLOW);
        expect(v.redactedText).toBe(`plain note ${i}`);
      }
    });
  });

  it('refuses a bad tenant as INVALID_ARGUMENT, like the unary call', async () => {
    const error = await client.check('not a tenant!', 'req-bad', 'hello').catch((e: unknown) => e);
    expect(isDomainError(error) && error.code).toBe('INVALID_ARGUMENT');
  });

  it('fails closed with UNAVAILABLE while policy is down, and reconnects once it is back', async () => {
    await policy!.stop();
    const error = await client.check('acme', 'req-down', 'hello').catch((e: unknown) => e);
    expect(isDomainError(error) && error.code).toBe('UNAVAILABLE');

    await startPolicy();
    let verdict;
    for (let attempt = 0; attempt < 50 && !verdict; attempt++) {
      verdict = await client
        .check('acme', `req-back-${attempt}`, 'hello again')
        .catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)));
    }
    expect(verdict?.action).toBe(PolicyAction.POLICY_ACTION_ALLOW);
  });
});
