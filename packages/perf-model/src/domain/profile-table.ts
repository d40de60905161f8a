import { DomainError } from '@switchyard/contracts';

/** Step kinds measured by `deploy/profiles/profile_llm.py`. */
export const PHASES = ['prefill', 'decode', 'mixed'] as const;
export type Phase = (typeof PHASES)[number];

/** One measured step latency: a row of a `*.csv` profile. */
export interface ProfileRow {
  readonly model: string;
  readonly phase: Phase;
  /** Sequences in the step: 1 for prefill, the decode batch for decode and mixed. */
  readonly batch: number;
  /** Prompt tokens for prefill; cached tokens per sequence for decode and mixed. */
  readonly context: number;
  /** Tokens pushed through the matmuls: context (prefill), batch (decode), batch + chunk (mixed). */
  readonly newTokens: number;
  /** Median step time in milliseconds. */
  readonly ms: number;
  readonly msMin: number;
  readonly msMax: number;
}

/** Shape and memory footprint of one model (or one tensor-parallel shard of it). */
export interface ModelMeta {
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediate: number;
  readonly vocab: number;
  readonly kvBytesPerToken: number;
  readonly weightBytes: number;
}

/** A profiled GPU: its measured ceilings and the models measured on it (`*.meta.json`). */
export interface GpuMeta {
  readonly gpu: string;
  /** Device memory as the driver reports it, GiB. */
  readonly memGib: number;
  readonly bf16MatmulTflops: number;
  readonly copyTbS: number;
  readonly models: Readonly<Record<string, ModelMeta>>;
}

const HEADER = 'model,phase,batch,context,new_tokens,ms,ms_min,ms_max';

function invalid(message: string): DomainError {
  return new DomainError('INVALID_ARGUMENT', message, { retryable: false });
}

/**
 * Parses a profile CSV (`model,phase,batch,context,new_tokens,ms,ms_min,ms_max`).
 * Throws a DomainError `INVALID_ARGUMENT` naming the line and column of the first bad value,
 * because a silently skipped row would bend every interpolated latency around it.
 */
export function parseProfileCsv(text: string): ProfileRow[] {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== HEADER) throw invalid(`profile csv: header must be "${HEADER}", got "${lines[0] ?? ''}"`);
  const rows: ProfileRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const at = `profile csv line ${i + 1}`;
    const cells = line.split(',');
    if (cells.length !== 8) throw invalid(`${at}: expected 8 columns, got ${cells.length}`);
    const [model, phase] = cells as [string, string];
    if (model === '') throw invalid(`${at}: column "model" is empty`);
    if (!(PHASES as readonly string[]).includes(phase)) {
      throw invalid(`${at}: column "phase" must be one of ${PHASES.join('|')}, got "${phase}"`);
    }
    const num = (col: number, name: string, integer: boolean): number => {
      const v = Number(cells[col]);
      if (cells[col] === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
        throw invalid(`${at}: column "${name}" must be a positive ${integer ? 'integer' : 'number'}, got "${cells[col]}"`);
      }
      return v;
    };
    const row: ProfileRow = {
      model,
      phase: phase as Phase,
      batch: num(2, 'batch', true),
      context: num(3, 'context', true),
      newTokens: num(4, 'new_tokens', true),
      ms: num(5, 'ms', false),
      msMin: num(6, 'ms_min', false),
      msMax: num(7, 'ms_max', false),
    };
    if (!(row.msMin <= row.ms && row.ms <= row.msMax)) throw invalid(`${at}: expected ms_min <= ms <= ms_max`);
    rows.push(row);
  }
  return rows;
}

function field(obj: object, key: string): unknown {
  return (obj as Record<string, unknown>)[key];
}

/** Reads `obj[key]` as a positive number; `path` is the field's full name for the error. */
function positive(obj: object, key: string, path = key): number {
  const v = field(obj, key);
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw invalid(`profile meta: field "${path}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Validates a parsed `*.meta.json` and maps it to {@link GpuMeta}. Throws a DomainError
 * `INVALID_ARGUMENT` naming the JSON field (e.g. `models.llama-3.1-8b.kv_bytes_per_token`).
 */
export function parseProfileMeta(json: unknown): GpuMeta {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('profile meta: must be a JSON object');
  const gpu = field(json, 'gpu');
  if (typeof gpu !== 'string' || gpu === '') throw invalid(`profile meta: field "gpu" must be a non-empty string`);
  const models = field(json, 'models');
  if (typeof models !== 'object' || models === null || Object.keys(models).length === 0) {
    throw invalid('profile meta: field "models" must be a non-empty object');
  }
  const parsed: Record<string, ModelMeta> = {};
  for (const [name, m] of Object.entries(models)) {
    const p = `models.${name}`;
    if (typeof m !== 'object' || m === null) throw invalid(`profile meta: field "${p}" must be an object`);
    // Field names keep the file's spelling in errors so a reader can find the bad value.
    const get = (key: string): number => positive(m, key, `${p}.${key}`);
    parsed[name] = {
      hidden: get('h'),
      layers: get('L'),
      heads: get('nh'),
      kvHeads: get('nkv'),
      headDim: get('hd'),
      intermediate: get('inter'),
      vocab: get('vocab'),
      kvBytesPerToken: get('kv_bytes_per_token'),
      weightBytes: get('weight_bytes'),
    };
  }
  return {
    gpu,
    memGib: positive(json, 'mem_gib'),
    bf16MatmulTflops: positive(json, 'bf16_matmul_tflops'),
    copyTbS: positive(json, 'copy_tb_s'),
    models: parsed,
  };
}
