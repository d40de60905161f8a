import { status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AdmissionServiceService as generated, GetRequestRequest } from '@switchyard/contracts';
import { guardDecoding, rejectUndecodable } from './decoding.js';

const AdmissionServiceService = guardDecoding(generated);

/** A CompleteRequest whose seed (field 7, varint) is 2^64-1: valid protobuf, past what a JS number holds. */
const hugeSeed = Buffer.from([0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);

describe('guarded AdmissionService decoding', () => {
  it('decodes a valid request as the generated code does', () => {
    const bytes = Buffer.from(GetRequestRequest.encode({ requestId: 'req_1' }).finish());
    expect(AdmissionServiceService.getRequest.requestDeserialize(bytes)).toEqual({ requestId: 'req_1' });
  });

  it('turns bytes that are not protobuf into INVALID_ARGUMENT for a unary call', () => {
    const handlers = rejectUndecodable(AdmissionServiceService, {
      getRequest: (_call: unknown, _callback: unknown) => expect.fail('the handler must not run'),
    });
    const request = AdmissionServiceService.getRequest.requestDeserialize(Buffer.from([0xff, 0xff, 0xff]));
    let sent: Partial<ServiceError> | undefined;
    handlers.getRequest({ request, emit: () => expect.fail('unary calls answer by callback') } as never, ((e: Partial<ServiceError>) => (sent = e)) as never);
    expect(sent).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('/switchyard.v1.AdmissionService/GetRequest') });
  });

  it('names the 2^53-1 limit when a 64-bit seed does not fit, and ends a streaming call with the error', () => {
    const handlers = rejectUndecodable(AdmissionServiceService, { generate: (_call: unknown) => expect.fail('the handler must not run') });
    const request = AdmissionServiceService.generate.requestDeserialize(hugeSeed);
    const emitted: unknown[] = [];
    handlers.generate({ request, emit: (_: string, e: unknown) => emitted.push(e) } as never);
    expect(emitted).toEqual([expect.objectContaining({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('seed') })]);
  });

  it('passes a decoded request on to the handler', () => {
    let seen: unknown;
    const handlers = rejectUndecodable(AdmissionServiceService, { getRequest: (call: { request: unknown }) => void (seen = call.request) });
    handlers.getRequest({ request: { requestId: 'req_1' } } as never);
    expect(seen).toEqual({ requestId: 'req_1' });
  });
});
