import type { JetStreamClient } from '@nats-io/jetstream';
import { makeEvent, outcomeName, subjects, type RequestTerminated } from '@switchyard/contracts';
import { publishEvent } from './publish.js';

/**
 * Publishes a request's terminal outcome. Every service uses the same msgID for a request,
 * whatever the outcome, so LIFECYCLE keeps only the first terminal event of a request that
 * two services (or two attempts) try to end inside the duplicate window. `traceparent`: the
 * span that ended it, so the outcome joins the request's trace; default none.
 */
export async function publishTerminal(js: JetStreamClient, terminated: RequestTerminated, nowMs: number, traceparent?: string): Promise<boolean> {
  const ack = await publishEvent(
    js,
    subjects.requestTerminated(outcomeName(terminated.outcome), terminated.tenant),
    makeEvent(
      { id: `terminal-${terminated.requestId}`, tenant: terminated.tenant, requestId: terminated.requestId, nowMs, traceparent },
      { $case: 'requestTerminated', requestTerminated: terminated },
    ),
  );
  return !ack.duplicate;
}

/** A terminal event with the fields a refusal does not use left empty. */
export function terminalOf(fields: Pick<RequestTerminated, 'requestId' | 'tenant' | 'outcome' | 'reason'> & Partial<RequestTerminated>): RequestTerminated {
  return { pool: '', workerId: '', attempt: 0, usage: undefined, retryAfterMs: 0, chunkCount: 0, tier: 0, model: '', feature: '', finishReason: '', ...fields };
}
