import { AdmissionServiceService as generated } from './gen/switchyard/v1/admission.js';
import { guardDecoding } from './grpc-decoding.js';

/**
 * The AdmissionService definition to serve: the generated one with decoding guarded, so a
 * request that is not valid protobuf (or holds a 64-bit number past 2^53-1) is refused as
 * INVALID_ARGUMENT instead of INTERNAL. Its handlers go through `rejectUndecodable`.
 */
export const AdmissionServiceService = guardDecoding(generated);
export type AdmissionServiceService = typeof generated;
