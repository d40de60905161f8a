export { createGrpcEdge } from './handlers.js';
export type { CallContext, EdgeLogger, GrpcEdge, GrpcEdgeOptions, ServerStreamHandler, UnaryHandler } from './handlers.js';
export { serve } from './serve.js';
export type { ServeOptions, Served, ServedService } from './serve.js';
export { authorizationOf, callerTraceparent, deadlineOf } from './metadata.js';
export { toGrpcError, capStatusMessage, MAX_STATUS_MESSAGE_BYTES } from './status.js';
export { guardDecoding, rejectUndecodable } from './decoding.js';
export { grpcServerCredentials, readTlsPair, watchTlsFiles } from './tls.js';
export type { TlsFiles, TlsPair } from './tls.js';
