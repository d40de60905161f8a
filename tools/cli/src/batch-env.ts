import { generateApiKey, hashApiKey } from '@switchyard/auth';

/**
 * What the batch service and admission need to find each other on one host: admission
 * forwards `/v1/files` and `/v1/batches` to the batch service's HTTP port, and the batch
 * service sends each line to admission's facade with an operator key of its own, made fresh
 * for this run (the `API_KEYS` entry to add is returned with it).
 */
export function batchServiceEnv(ports: { readonly admissionHttp: number; readonly batchGrpc: number; readonly batchHttp: number }) {
  const key = generateApiKey();
  return {
    apiKeyEntry: `ops:batch-service:${hashApiKey(key)}:operator`,
    env: {
      BATCH_LISTEN: `127.0.0.1:${ports.batchGrpc}`,
      BATCH_HTTP_LISTEN: `127.0.0.1:${ports.batchHttp}`,
      BATCH_HTTP_URL: `http://127.0.0.1:${ports.batchHttp}`,
      ADMISSION_HTTP_URL: `http://127.0.0.1:${ports.admissionHttp}`,
      BATCH_SERVICE_API_KEY: key,
    },
  };
}
