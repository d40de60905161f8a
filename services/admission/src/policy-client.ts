import { credentials, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { CheckTarget, DomainError, PolicyServiceClient, type CheckResponse, type CheckStreamRequest, type CheckStreamResponse } from '@switchyard/contracts';

export interface PolicyClient {
  /** `traceparent`: the admitting span's, so policy's span joins the request's trace; default none. */
  check(tenant: string, requestId: string, text: string, traceparent?: string): Promise<CheckResponse>;
  close(): void;
}

interface Waiting {
  readonly resolve: (r: CheckResponse) => void;
  readonly reject: (e: DomainError) => void;
  readonly timer: NodeJS.Timeout;
}

/** One open CheckStream call and the checks sent on it that are not answered yet. */
interface Channel {
  readonly call: ClientDuplexStream<CheckStreamRequest, CheckStreamResponse>;
  readonly waiting: Map<number, Waiting>;
}

const unavailable = (cause?: unknown) => new DomainError('UNAVAILABLE', 'the policy service did not answer; try again shortly', { cause, retryAfterMs: 1_000 });

/**
 * Asks the policy service over one long-lived CheckStream call, checks matched to answers by
 * id: a unary call per check would cost a new HTTP/2 stream, headers and a deadline timer on
 * both sides, on every request's path. Fails closed: a check not answered within the
 * timeout, or lost with its stream, is refused as UNAVAILABLE rather than admitted
 * unchecked. A broken stream is reopened by the next check.
 */
export function createPolicyClient(address: string, timeoutMs = 2_000): PolicyClient {
  const client = new PolicyServiceClient(address, credentials.createInsecure());
  let channel: Channel | undefined;
  let nextId = 1;

  /** Forgets a broken or closed channel and refuses every check still waiting on it. */
  const fail = (c: Channel, cause: unknown) => {
    if (channel === c) channel = undefined;
    for (const w of c.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(unavailable(cause));
    }
    c.waiting.clear();
  };

  const open = (): Channel => {
    const c: Channel = { call: client.checkStream(), waiting: new Map() };
    c.call.on('data', (m: CheckStreamResponse) => {
      const w = c.waiting.get(m.id);
      if (!w) return; // timed out already
      c.waiting.delete(m.id);
      clearTimeout(w.timer);
      if (m.response) return w.resolve(m.response);
      const refused = m.error?.code === status.INVALID_ARGUMENT;
      w.reject(refused ? new DomainError('INVALID_ARGUMENT', m.error!.message) : unavailable(new Error(m.error?.message ?? 'empty answer')));
    });
    c.call.on('error', (e) => fail(c, e));
    c.call.on('end', () => fail(c, new Error('policy stream ended')));
    return c;
  };

  return {
    check(tenant, requestId, text, traceparent) {
      const c = (channel ??= open());
      const id = nextId++;
      return new Promise<CheckResponse>((resolve, reject) => {
        const timer = setTimeout(() => {
          c.waiting.delete(id);
          reject(unavailable(new Error(`no answer within ${timeoutMs} ms`)));
        }, timeoutMs);
        c.waiting.set(id, { resolve, reject, timer });
        c.call.write({ id, check: { tenant, requestId, text, target: CheckTarget.CHECK_TARGET_PROMPT, traceparent: traceparent ?? '' } });
      });
    },
    close() {
      if (channel) {
        channel.call.end();
        fail(channel, new Error('policy client closed'));
      }
      client.close();
    },
  };
}
