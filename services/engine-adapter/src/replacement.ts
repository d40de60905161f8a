import { publishEvent } from '@switchyard/bus';
import { makeEvent, subjects, tierName, type RequestSpec } from '@switchyard/contracts';
import type { OutputDeps } from '@switchyard/worker-kit';

/**
 * Asks the scheduler to place `request` on another pool: this pool's upstream failed before
 * its first token (`reason`). One id per request, so a repeated ask is dropped by JetStream.
 * The scheduler releases the batch's claim (`batchId`) and dispatches it elsewhere, or ends it
 * with `reason` when no other pool can take it.
 */
export async function requestReplacement(out: OutputDeps, request: RequestSpec, batchId: string, reason: string): Promise<void> {
  const { requestId, tenant } = request;
  await publishEvent(
    out.js,
    subjects.requestReplace(tierName(request.tier) ?? 'batch', tenant),
    makeEvent(
      { id: `replace-${requestId}`, tenant, requestId, nowMs: out.now(), traceparent: request.traceparent },
      { $case: 'replacementRequested', replacementRequested: { request, fromPool: out.pool, batchId, reason } },
    ),
  );
}
