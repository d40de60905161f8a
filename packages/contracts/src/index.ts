export { Tier, Outcome, TokenUsage } from './gen/switchyard/v1/common.js';
export {
  RequestState,
  GenerateRequest,
  GenerateResponse,
  GenerationStarted,
  GenerationChunk,
  GenerationFinished,
  CompleteRequest,
  CompleteResponse,
  GetRequestRequest,
  GetRequestResponse,
  AdmissionServiceService,
  type AdmissionServiceServer,
  AdmissionServiceClient,
} from './gen/switchyard/v1/admission.js';
export {
  CheckTarget,
  PolicyAction,
  CheckRequest,
  CheckResponse,
  CheckStreamRequest,
  CheckStreamResponse,
  PolicyServiceService,
  type PolicyServiceServer,
  PolicyServiceClient,
} from './gen/switchyard/v1/policy.js';
export {
  EntrySide,
  GetBalanceRequest,
  AccountBalance,
  GetBalanceResponse,
  ListEntriesRequest,
  LedgerEntry,
  ListEntriesResponse,
  InvoiceStatus,
  GetInvoiceRequest,
  InvoiceLine,
  Invoice,
  GetInvoiceResponse,
  ListUsageRollupsRequest,
  UsageRollup,
  ListUsageRollupsResponse,
  GetBudgetRequest,
  GetBudgetResponse,
  SetBudgetRequest,
  SetBudgetResponse,
  AddCreditRequest,
  AddCreditResponse,
  Reservation,
  CreateReservationRequest,
  CreateReservationResponse,
  ListReservationsRequest,
  ListReservationsResponse,
  GetFleetReportRequest,
  PoolUtilization,
  GetFleetReportResponse,
  BillingServiceService,
  type BillingServiceServer,
  BillingServiceClient,
} from './gen/switchyard/v1/billing.js';
export {
  EventEnvelope,
  Event,
  RequestSpec,
  RequestAdmitted,
  ReplacementRequested,
  RequestDispatched,
  BatchFormed,
  RequestTerminated,
  UsageRecorded,
  BillableUsage,
  Candidate,
  Decision,
  TokenChunk,
  TokenChunks,
  BudgetLevel,
  BudgetScope,
  BudgetState,
} from './gen/switchyard/v1/events.js';
export {
  WorkerFaultKind,
  WorkerFault,
  WorkerFaultReply,
  PoolHealth,
  PoolStatus,
  ListPoolsRequest,
  ListPoolsResponse,
  DrainPoolRequest,
  DrainPoolResponse,
  UndrainPoolRequest,
  UndrainPoolResponse,
  RouteVersion,
  RouteCanary,
  ModelRoute,
  ListRoutesRequest,
  ListRoutesResponse,
  SetRouteWeightsRequest,
  SetRouteWeightsResponse,
  OpsServiceService,
  type OpsServiceServer,
  OpsServiceClient,
} from './gen/switchyard/v1/ops.js';
export {
  BatchFile,
  Batch,
  BatchError,
  BatchRequestCounts,
  UploadFileRequest,
  UploadFileResponse,
  SubmitBatchRequest,
  SubmitBatchResponse,
  GetBatchRequest,
  GetBatchResponse,
  ListBatchesRequest,
  ListBatchesResponse,
  CancelBatchRequest,
  CancelBatchResponse,
  GetBatchResultsRequest,
  GetBatchResultsResponse,
  BatchServiceService,
  type BatchServiceServer,
  BatchServiceClient,
} from './gen/switchyard/v1/batch.js';
export { subjects, filters, OUTCOMES, TIERS } from './subjects.js';
export type { OutcomeName, TierName } from './subjects.js';
export { streams, durables, buckets } from './streams.js';
export type { StreamSpec, StreamName, StreamRetention } from './streams.js';
export { makeEvent, encodeEvent, decodeEvent, expectPayload, EVENT_VERSION } from './envelope.js';
export type { EventMeta, EventPayload, EventType } from './envelope.js';
export { tierName, tierFromName, parseTier, tierFromText, tierLabel, TIER_RANK, outcomeName, DEFAULT_TENANT_IN_FLIGHT, parseTierCounts } from './tiers.js';
export { TENANT_ID, isTenantId } from './tenant-id.js';
export { DomainError, errorCodes, isDomainError } from './domain-error.js';
export type { ErrorCode } from './domain-error.js';
export { RETRY_AFTER_MS } from './retry-after.js';
export { heartbeatKey, parseHeartbeat, encodeHeartbeat } from './heartbeat.js';
export { routesKeys, batchingKeys } from './kv-keys.js';
export type { WorkerHeartbeat } from './heartbeat.js';
