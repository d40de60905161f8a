import { consumeDurable, publishEvent, publishTerminal, terminalOf, type JetStreamClient, type RunningConsumer } from '@switchyard/bus';
import { DomainError, Outcome, expectPayload, makeEvent, streams, subjects } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';

export interface BatcherDeps {
  readonly js: JetStreamClient;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Walking-skeleton batcher: forwards each dispatched request as a batch of one. The batch id
 * derives from the request id, so a crash between publish and ack re-publishes the same
 * msgID and the stream keeps one copy.
 */
export function createBatcher(deps: BatcherDeps) {
  const now = deps.now ?? Date.now;
  let consumer: RunningConsumer | undefined;
  return {
    async start() {
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.DISPATCH.name,
        durable: 'batcher',
        concurrency: 64,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event }) => {
          const { request, pool } = expectPayload(event, 'requestDispatched').requestDispatched;
          if (!request) throw new DomainError('INVALID_ARGUMENT', 'dispatched event without a request');
          const { requestId, tenant } = request;
          if (request.deadlineUnixMs && request.deadlineUnixMs <= now()) {
            await publishTerminal(deps.js, terminalOf({ requestId, tenant, outcome: Outcome.OUTCOME_EXPIRED, reason: 'deadline passed before the request reached a GPU', pool }), now());
            return;
          }
          const batchId = `batch-${requestId}`;
          await publishEvent(
            deps.js,
            subjects.batches(pool),
            makeEvent({ id: batchId, tenant, requestId, nowMs: now() }, { $case: 'batchFormed', batchFormed: { batchId, pool, requests: [request] } }),
          );
        },
      });
    },
    async stop() {
      await consumer?.stop();
    },
  };
}

export type Batcher = ReturnType<typeof createBatcher>;
