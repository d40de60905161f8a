import type { ReplayStream } from './replay-window.js';

/** A column's type, as every writer maps it: Parquet physical/converted types, CSV text, JSON. */
export type ColumnType = 'TIMESTAMP' | 'STRING' | 'INT32' | 'INT64' | 'DOUBLE' | 'BOOLEAN';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

/** One row: a value per column, in column order. `null` is a value the event does not give. */
export type Row = (string | number | boolean | null)[];

const col = (name: string, type: ColumnType): Column => ({ name, type });
const str = (name: string) => col(name, 'STRING');
/** Counts that fit 32 bits (tokens of one request); INT64 is kept for money, whose values may not. */
const int = (name: string) => col(name, 'INT32');
const dbl = (name: string) => col(name, 'DOUBLE');

/** Every stream's rows start with these: when, where, which event, whose. */
const COMMON = [col('time', 'TIMESTAMP'), str('stream'), str('subject'), str('event_id'), str('request_id'), str('tenant')];

/** Where every row holds its tenant. */
export const TENANT_COLUMN = COMMON.findIndex((c) => c.name === 'tenant');

const TOKENS = [int('input_tokens'), int('cached_input_tokens'), int('output_tokens')];
const COST = [col('billable', 'BOOLEAN'), col('cost_micros', 'INT64'), str('price_version')];

/**
 * The flat columns of each stream, documented in README "Replaying streams". Names are
 * snake_case so DuckDB and pandas take them without quoting; never a prompt's text.
 */
export const REPLAY_COLUMNS: Readonly<Record<ReplayStream, readonly Column[]>> = {
  USAGE: [
    ...COMMON,
    str('usage_id'),
    str('tier'),
    str('model'),
    str('feature'),
    str('pool'),
    str('worker'),
    str('outcome'),
    ...TOKENS,
    dbl('gpu_ms'),
    dbl('queue_ms'),
    dbl('ttft_ms'),
    dbl('total_ms'),
    ...COST,
  ],
  BILLING: [...COMMON, str('usage_id'), str('tier'), str('model'), str('feature'), str('pool'), str('outcome'), ...TOKENS, dbl('gpu_ms'), ...COST],
  LIFECYCLE: [
    ...COMMON,
    str('outcome'),
    str('reason'),
    str('finish_reason'),
    str('tier'),
    str('model'),
    str('feature'),
    str('pool'),
    str('worker'),
    int('attempt'),
    ...TOKENS,
    int('chunk_count'),
  ],
  DECISIONS: [...COMMON, str('service'), str('action'), str('chosen'), str('reason'), str('policy_version'), dbl('latency_ms')],
  REQUESTS: [...COMMON, str('kind'), str('tier'), str('model'), str('feature'), int('prompt_tokens'), int('max_tokens'), str('from_pool'), str('reason')],
};
