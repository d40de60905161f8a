import { jetstream, jetstreamManager, type NatsConnection } from '@switchyard/bus';
import { decodeEvent, filters, tierName, type Event } from '@switchyard/contracts';
import type { AdmittedRequest } from './domain/window-trace.js';
import { readWindow } from './replay-read.js';

export interface RecordedWindow {
  readonly admitted: readonly AdmittedRequest[];
  /** Output tokens each admitted request produced, by request id, from its usage. */
  readonly outputTokens: ReadonlyMap<string, number>;
}

/** What the streams cannot give: missing streams, named for the user. */
export class RecordedWindowError extends Error {
  override readonly name = 'RecordedWindowError';
}

/**
 * The requests admission took in `[sinceMs, untilMs]` (REQUESTS) and the output tokens their
 * usage records (USAGE, read on to `nowMs`: a request admitted near the window's end
 * completes after it). Both through ephemeral ordered consumers, as `switchyard replay` reads.
 */
export async function readRecordedWindow(nc: NatsConnection, sinceMs: number, untilMs: number, nowMs: number): Promise<RecordedWindow> {
  const jsm = await jetstreamManager(nc);
  for (const stream of ['REQUESTS', 'USAGE']) {
    const exists = await jsm.streams.info(stream).then(
      () => true,
      () => false,
    );
    if (!exists) throw new RecordedWindowError(`stream ${stream} does not exist on this NATS server (no Switchyard service has run against it?)`);
  }
  const js = jetstream(nc);
  const admitted: AdmittedRequest[] = [];
  const ids = new Set<string>();
  await readWindow(js, { stream: 'REQUESTS', filter: filters.allAdmitted, sinceMs, untilMs }, (m) => {
    const spec = payloadOf(m.data, 'requestAdmitted')?.requestAdmitted.request;
    const tier = spec && tierName(spec.tier);
    if (!spec || !tier || ids.has(spec.requestId)) return;
    ids.add(spec.requestId);
    admitted.push({
      requestId: spec.requestId,
      admittedMs: Number(spec.admittedUnixMs) || m.storedMs,
      tenant: spec.tenant,
      tier,
      feature: spec.feature,
      model: spec.model,
      promptTokens: spec.promptTokens,
      maxTokens: spec.maxTokens,
    });
  });
  const outputTokens = new Map<string, number>();
  if (admitted.length > 0) {
    await readWindow(js, { stream: 'USAGE', filter: filters.allUsage, sinceMs, untilMs: nowMs }, (m) => {
      const usage = payloadOf(m.data, 'usageRecorded')?.usageRecorded;
      if (!usage || !ids.has(usage.requestId)) return;
      // A request re-placed after its first pool failed has two attempts: the one that produced counts.
      const produced = usage.usage?.outputTokens ?? 0;
      outputTokens.set(usage.requestId, Math.max(outputTokens.get(usage.requestId) ?? 0, produced));
    });
  }
  return { admitted, outputTokens };
}

type Payload = NonNullable<Event['payload']>;

function payloadOf<C extends Payload['$case']>(data: Uint8Array, kind: C): Extract<Payload, { $case: C }> | undefined {
  try {
    const p = decodeEvent(data).payload;
    return p?.$case === kind ? (p as Extract<Payload, { $case: C }>) : undefined;
  } catch {
    return undefined;
  }
}
