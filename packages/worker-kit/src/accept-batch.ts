import type { PulledMessage } from '@switchyard/bus';
import { expectPayload, type RequestSpec } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { BatchTracker } from './batch-tracker.js';

/**
 * Takes a pulled `batchFormed` message the way every worker must: opens it in the tracker
 * (so it is acked once every request has an outcome) and hands each request on with its
 * attempt (the delivery count, after any earlier deliveries), its tracker key and the batch's id. A message that is not a batch is
 * dead-lettered, never retried.
 */
export function acceptBatch(
  message: PulledMessage,
  batches: BatchTracker,
  logger: Logger,
  take: (request: RequestSpec, attempt: number, key: string, batchId: string) => void,
): void {
  let requests: RequestSpec[];
  let batchId: string;
  let earlierDeliveries: number;
  try {
    ({ requests, batchId, earlierDeliveries } = expectPayload(message.event, 'batchFormed').batchFormed);
  } catch (e) {
    logger.error({ err: e, subject: message.subject }, 'not a batch; dead-lettering it');
    void message.deadLetter(e instanceof Error ? e.message : String(e)).catch((err: unknown) => logger.error({ err }, 'dead-letter failed'));
    return;
  }
  // A batch moved off a dead or draining worker's queue counts on from its deliveries there.
  const attempt = earlierDeliveries + message.deliveryCount;
  const keys = requests.map((r) => `${r.requestId}/${attempt}`);
  batches.open(message, keys);
  requests.forEach((r, i) => take(r, attempt, keys[i]!, batchId));
}
