import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { consumeDurable, type JetStreamClient, type NatsConnection, type RunningConsumer } from '@switchyard/bus';
import type { Keyring } from '@switchyard/auth';
import { AdmissionServiceService, streams } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { admissionHandlers } from './grpc.js';
import type { PolicyClient } from './policy-client.js';
import { createRequestStore } from './request-store.js';
import { watchTerminals, type TerminalWatch } from './terminal-watch.js';
import type { GenerationLimits } from './validate.js';

export interface AdmissionDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly redis: Redis;
  readonly keyring: Keyring;
  readonly policy: PolicyClient;
  readonly logger: Logger;
  readonly limits: GenerationLimits;
  /** `host:port` to serve gRPC on; port 0 picks a free one. */
  readonly listen: string;
  readonly now?: () => number;
}

export interface Admission {
  /** Resolves with the bound `host:port`. */
  start(): Promise<string>;
  /** Stops taking calls, lets in-flight streams finish (up to `graceMs`), then stops consumers. */
  stop(graceMs?: number): Promise<void>;
}

/** Explicit transport limits: a hostile client cannot make the process buffer much. */
const SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 1 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 1000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_connection_age_ms': 30 * 60_000,
  'grpc.max_connection_age_grace_ms': 60_000,
};

export function createAdmission(deps: AdmissionDeps): Admission {
  const now = deps.now ?? Date.now;
  const store = createRequestStore(deps.redis);
  const server = new Server(SERVER_OPTIONS);
  let terminals: TerminalWatch | undefined;
  let stateConsumer: RunningConsumer | undefined;

  return {
    async start() {
      terminals = await watchTerminals(deps.js, (e) => deps.logger.warn({ err: e }, 'bad lifecycle event'));
      // One durable shared by all replicas keeps GetRequest state right whoever admitted it.
      stateConsumer = await consumeDurable({
        js: deps.js,
        stream: streams.LIFECYCLE.name,
        durable: 'admission',
        concurrency: 16,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event }) => {
          if (event.payload?.$case !== 'requestTerminated') return;
          const t = event.payload.requestTerminated;
          await store.terminated({ requestId: t.requestId, outcome: t.outcome, usage: t.usage, reason: t.reason, atUnixMs: event.envelope?.timeUnixMs ?? now() });
        },
      });
      server.addService(AdmissionServiceService, admissionHandlers({ ...deps, store, terminals, now }));
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(deps.listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      const host = deps.listen.slice(0, deps.listen.lastIndexOf(':'));
      return `${host}:${port}`;
    },

    async stop(graceMs = 10_000) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => (server.forceShutdown(), resolve()), graceMs);
        server.tryShutdown(() => (clearTimeout(force), resolve()));
      });
      await stateConsumer?.stop();
      await terminals?.stop();
      deps.policy.close();
    },
  };
}
