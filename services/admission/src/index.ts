export { createAdmission } from './service.js';
export type { Admission, AdmissionAddresses, AdmissionDeps } from './service.js';
export { ADMISSION_REDIS_OPTIONS } from './redis-options.js';
export { createPolicyClient } from './policy-client.js';
export type { PolicyClient } from './policy-client.js';
