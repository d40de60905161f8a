import { ACT_FOR_TENANT_HEADER, actFor, type Keyring, type Principal } from '@switchyard/auth';
import {
  type Batch,
  type BatchServiceServer,
  type CancelBatchRequest,
  type CancelBatchResponse,
  type GetBatchRequest,
  type GetBatchResponse,
  type GetBatchResultsRequest,
  type GetBatchResultsResponse,
  type ListBatchesRequest,
  type ListBatchesResponse,
  type SubmitBatchRequest,
  type SubmitBatchResponse,
  type UploadFileRequest,
  type UploadFileResponse,
} from '@switchyard/contracts';
import { authorizationOf, createGrpcEdge } from '@switchyard/grpc-edge';
import type { Logger } from '@switchyard/telemetry';
import { pageLimit, type BatchApi } from './batch-api.js';
import type { BatchRecord } from './domain/batch-record.js';

export interface BatchGrpcDeps {
  readonly api: BatchApi;
  readonly keyring: Keyring;
  readonly logger: Logger;
}

const batchMessage = (b: BatchRecord): Batch => ({
  id: b.id,
  endpoint: b.endpoint,
  inputFileId: b.inputFileId,
  completionWindow: b.completionWindow,
  status: b.status,
  outputFileId: b.outputFileId ?? '',
  errorFileId: b.errorFileId ?? '',
  requestCounts: { total: b.total, completed: b.completed, failed: b.failed },
  metadata: { ...b.metadata },
  errors: b.errors.map((e) => ({ code: e.code, message: e.message, line: e.line ?? 0 })),
  createdUnixMs: b.createdMs,
  expiresUnixMs: b.expiresMs,
  inProgressUnixMs: b.inProgressMs ?? 0,
  finalizingUnixMs: b.finalizingMs ?? 0,
  endedUnixMs: b.endedMs ?? 0,
  cancellingUnixMs: b.cancellingMs ?? 0,
});

/** The BatchService handlers: the gRPC side of what `http.ts` serves as OpenAI's Batch API. */
export function batchHandlers(deps: BatchGrpcDeps): BatchServiceServer {
  const { unary, serverStream } = createGrpcEdge<Principal>({
    logger: deps.logger,
    authenticate: (metadata) => actFor(deps.keyring.authenticate(authorizationOf(metadata)), metadata.get(ACT_FOR_TENANT_HEADER)[0]?.toString()),
  });
  const { api } = deps;

  return {
    uploadFile: unary<UploadFileRequest, UploadFileResponse>(async (request, { principal }) => {
      const file = await api.uploadFile(principal, {
        filename: () => request.filename,
        purpose: () => request.purpose,
        content: [request.content],
      });
      return { file: { id: file.id, filename: file.filename, purpose: file.purpose, bytes: file.bytes, createdUnixMs: file.createdMs } };
    }),

    submitBatch: unary<SubmitBatchRequest, SubmitBatchResponse>(async (request, { principal }) => ({
      batch: batchMessage(
        await api.createBatch(principal, {
          inputFileId: request.inputFileId,
          endpoint: request.endpoint,
          completionWindow: request.completionWindow || '24h',
          metadata: request.metadata,
        }),
      ),
    })),

    getBatch: unary<GetBatchRequest, GetBatchResponse>(async (request, { principal }) => ({
      batch: batchMessage(await api.getBatch(principal, request.batchId)),
    })),

    listBatches: unary<ListBatchesRequest, ListBatchesResponse>(async (request, { principal }) => {
      const { batches, hasMore } = await api.listBatches(principal, { after: request.after || undefined, limit: pageLimit(request.limit) });
      return { batches: batches.map(batchMessage), hasMore };
    }),

    cancelBatch: unary<CancelBatchRequest, CancelBatchResponse>(async (request, { principal }) => ({
      batch: batchMessage(await api.cancelBatch(principal, request.batchId)),
    })),

    getBatchResults: serverStream<GetBatchResultsRequest, GetBatchResultsResponse>(async (request, { principal, signal }, write) => {
      for await (const { line, error } of api.results(principal, request.batchId)) {
        if (signal.aborted) return;
        const customId = (JSON.parse(line) as { custom_id?: string | null }).custom_id ?? '';
        write({ customId, line, error });
      }
    }),
  };
}
