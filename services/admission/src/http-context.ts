import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Keyring, Principal } from '@switchyard/auth';
import type { TlsFiles } from '@switchyard/grpc-edge';
import type { Logger } from '@switchyard/telemetry';
import type { PromptEncoder } from '@switchyard/tokenizer';
import type { ConnectionLimits } from './connection-limits.js';
import type { GenerationDeps } from './generation.js';
import type { ModelCatalog } from './domain/model-catalog.js';
import type { GenerationLimits } from './domain/validate.js';

export interface HttpFacadeDeps {
  readonly generation: GenerationDeps;
  readonly keyring: Keyring;
  readonly limits: GenerationLimits;
  /** Llama 3 tokenizer (`encodePrompt`): counts the prompt and gives its ids for the prefix identity. */
  readonly encodePrompt: PromptEncoder;
  readonly logger: Logger;
  /** Every model name a caller may send now (`/v1/models`, and the check before admission). */
  readonly models: () => ModelCatalog;
  /** The batch service's Files and Batches API; undefined turns `/v1/files` and `/v1/batches` off. */
  readonly batchApi?: URL;
  /** Largest request body accepted. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** Serve HTTPS with this certificate and key, reloaded when the files change. Default plain HTTP. */
  readonly tls?: TlsFiles;
  /** Timeouts for idle connections and requests that arrive too slowly. Default `DEFAULT_CONNECTION_LIMITS`. */
  readonly connectionLimits?: Pick<ConnectionLimits, 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpKeepAliveTimeoutMs'>;
}

/** What every route of the facade shares. */
export interface HttpRouteContext {
  readonly deps: HttpFacadeDeps;
  /** onRequest hook: authenticates the key, or answers 401/403 before the body is read. */
  readonly authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** The caller `authenticate` let through. */
  readonly principalOf: (req: FastifyRequest) => Principal;
  /** Answers an error in OpenAI's shape, with the retry headers OpenAI's SDKs follow. */
  readonly sendError: (reply: FastifyReply, e: unknown) => FastifyReply;
}

export const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
