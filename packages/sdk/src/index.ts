export { createSwitchyardClient } from './client.js';
export type { SwitchyardClient, SwitchyardClientOptions, GenerateParams } from './client.js';
export { Tier, Outcome, RequestState } from '@switchyard/contracts';
export type { GenerateResponse } from '@switchyard/contracts';
