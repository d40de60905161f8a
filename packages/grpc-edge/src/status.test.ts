import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DomainError } from '@switchyard/contracts';
import { MAX_STATUS_MESSAGE_BYTES, capStatusMessage, toGrpcError } from './status.js';

describe('toGrpcError', () => {
  it('keeps a short domain message as it is', () => {
    expect(toGrpcError(new DomainError('NOT_FOUND', 'no request req_1'))).toMatchObject({ code: status.NOT_FOUND, details: 'no request req_1' });
  });

  it('caps a message that echoes unbounded input at 1 KiB, so no trailer can break the connection', () => {
    const details = toGrpcError(new DomainError('NOT_FOUND', `no request ${'x'.repeat(100_000)}`)).details!;
    expect(Buffer.byteLength(details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(details).toMatch(/^no request x+…$/);
  });
});

describe('capStatusMessage', () => {
  it('cuts multi-byte text at a character boundary', () => {
    const capped = capStatusMessage('é'.repeat(2_000));
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(capped).toMatch(/^é+…$/);
  });
});
