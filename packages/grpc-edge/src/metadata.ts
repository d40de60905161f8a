import type { Metadata } from '@grpc/grpc-js';
import { DomainError } from '@switchyard/contracts';

/**
 * The `authorization` metadata of a call (`Bearer <key>`), if it sent one. Two values are
 * refused rather than one picked: which key the caller meant is unknowable, and a proxy that
 * adds its own must not decide the tenant by header order.
 */
export function authorizationOf(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length > 1) {
    throw new DomainError('UNAUTHENTICATED', `the call carries ${values.length} "authorization" values; send exactly one: "authorization: Bearer <key>"`);
  }
  const value = values[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The call's `traceparent` metadata, when it sent exactly one string value; whether it is a
 * valid one is for the tracing code to judge (an invalid one starts a new trace).
 */
export function callerTraceparent(metadata: Metadata): string | undefined {
  const values = metadata.get('traceparent');
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
}

/** The caller's deadline in Unix ms, or 0 when it set none (grpc-js reports that as Infinity). */
export function deadlineOf(call: { getDeadline(): Date | number }): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : 0;
}
