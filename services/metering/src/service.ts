import { consumeDurable, publishEvent, type JetStreamClient, type RunningConsumer } from '@switchyard/bus';
import { expectPayload, makeEvent, streams, subjects } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { toBillable } from './billable.js';

export interface MeteringDeps {
  readonly js: JetStreamClient;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Consumes recorded usage and publishes billable usage with msgID = usage id, so a
 * redelivered usage event is dropped by the stream; billing's UNIQUE usage id catches any
 * replay outside the duplicate window.
 */
export function createMetering(deps: MeteringDeps) {
  const now = deps.now ?? Date.now;
  let consumer: RunningConsumer | undefined;
  return {
    async start() {
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.USAGE.name,
        durable: 'metering',
        concurrency: 64,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event }) => {
          const usage = expectPayload(event, 'usageRecorded').usageRecorded;
          const billable = toBillable(usage, event.envelope?.timeUnixMs ?? now());
          await publishEvent(
            deps.js,
            subjects.billingUsage(usage.tenant),
            makeEvent({ id: usage.usageId, tenant: usage.tenant, requestId: usage.requestId, nowMs: now() }, { $case: 'billableUsage', billableUsage: billable }),
          );
        },
      });
    },
    async stop() {
      await consumer?.stop();
    },
  };
}

export type Metering = ReturnType<typeof createMetering>;
