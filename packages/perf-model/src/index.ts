export { createPerfModel } from './domain/perf-model.js';
export type { PerfModel, PerfModelOptions } from './domain/perf-model.js';
export { GPU_PROFILE_FILES, loadProfiles } from './load-profiles.js';
export type { GpuProfile, GpuType } from './load-profiles.js';
export { PHASES, parseProfileCsv, parseProfileMeta } from './domain/profile-table.js';
export type { GpuMeta, ModelMeta, Phase, ProfileRow } from './domain/profile-table.js';
