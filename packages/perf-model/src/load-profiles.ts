import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError } from '@switchyard/contracts';
import { parseProfileCsv, parseProfileMeta } from './domain/profile-table.js';
import type { GpuMeta, ProfileRow } from './domain/profile-table.js';

/** GPU types the simulator can offer, each backed by a measured profile file pair. */
export const GPU_PROFILE_FILES = {
  'h100-80gb': 'h100-sxm-80gb',
  'h200-141gb': 'h200-141gb',
} as const;

export type GpuType = keyof typeof GPU_PROFILE_FILES;

/** The measured step latencies and ceilings of one GPU type. */
export interface GpuProfile {
  readonly rows: readonly ProfileRow[];
  readonly meta: GpuMeta;
}

/** The repository's copy of the measurements, so a fresh clone runs without /work/shared. */
const DEFAULT_DIR = new URL('../../../deploy/profiles/', import.meta.url);

async function readText(dir: string | URL, file: string): Promise<string> {
  const at = typeof dir === 'string' ? join(dir, file) : new URL(file, dir);
  try {
    return await readFile(at, 'utf8');
  } catch (cause) {
    throw new DomainError('FAILED_PRECONDITION', `profile file ${String(at)} cannot be read`, { cause, retryable: false });
  }
}

/** Re-throws a parse error with the file name in front, keeping the field-level message. */
function inFile<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new DomainError('FAILED_PRECONDITION', `${file}: ${why}`, { cause, retryable: false });
  }
}

/**
 * Reads `<file>.csv` and `<file>.meta.json` for every entry of {@link GPU_PROFILE_FILES}.
 *
 * @param dir folder holding the profiles; defaults to the repository's `deploy/profiles/`.
 * @returns each GPU type's parsed rows and meta.
 * @throws DomainError `FAILED_PRECONDITION` naming the file (and field) that is missing or wrong.
 */
export async function loadProfiles(dir: string | URL = DEFAULT_DIR): Promise<Record<GpuType, GpuProfile>> {
  const load = async (base: string): Promise<GpuProfile> => {
    const [csv, json] = await Promise.all([readText(dir, `${base}.csv`), readText(dir, `${base}.meta.json`)]);
    return {
      rows: inFile(`${base}.csv`, () => parseProfileCsv(csv)),
      meta: inFile(`${base}.meta.json`, () => parseProfileMeta(JSON.parse(json))),
    };
  };
  const [h100, h200] = await Promise.all([load(GPU_PROFILE_FILES['h100-80gb']), load(GPU_PROFILE_FILES['h200-141gb'])]);
  return { 'h100-80gb': h100, 'h200-141gb': h200 };
}
