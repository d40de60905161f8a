import type { TierName } from '@switchyard/contracts';

/** One request of a trace: when it arrived and how big it was. */
export interface TraceRow {
  /** 1-based line of the file it came from, for messages. */
  readonly line: number;
  /** Arrival in ms after the trace's first row (rows are sorted by it). */
  readonly atMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly tenant?: string;
  readonly tier?: TierName;
  /** What the request is billed under; recorded windows carry it, trace files do not. */
  readonly feature?: string;
  /** Mooncake: ids of the prompt's 512-token blocks; equal ids are equal text. */
  readonly hashIds?: readonly number[];
}

export const TRACE_FORMATS = ['azure-csv', 'mooncake-jsonl', 'generic-csv', 'generic-jsonl'] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

export interface Trace {
  readonly format: TraceFormat;
  readonly rows: readonly TraceRow[];
}

/** A trace that cannot be read; `line` is 1-based (0: the file as a whole). */
export class TraceError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'TraceError';
  }
}

const TIERS: readonly string[] = ['realtime', 'internal', 'batch'];
const AZURE_HEADER = 'TIMESTAMP,ContextTokens,GeneratedTokens';

/**
 * Reads a trace, its format told by its first line: the Azure 2023 CSV header, a generic CSV
 * header (`timestamp,input_tokens,output_tokens[,tenant,tier]`), or a JSON object (Mooncake when
 * it has `input_length`, generic JSONL when it has `input_tokens`). Blank lines are skipped.
 */
export function parseTrace(text: string): Trace {
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new TraceError(0, 'the trace is empty: no header and no rows');
  const head = lines[first]!.trim();
  let format: TraceFormat;
  let rows: TraceRow[];
  if (head === AZURE_HEADER) {
    format = 'azure-csv';
    rows = parseCsv(lines, first, ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens']);
  } else if (head.startsWith('{')) {
    format = 'input_length' in parseJson(head, first + 1) ? 'mooncake-jsonl' : 'generic-jsonl';
    rows = parseJsonl(lines, first, format);
  } else if (head.split(',')[0]!.trim() === 'timestamp') {
    format = 'generic-csv';
    rows = parseCsv(
      lines,
      first,
      head.split(',').map((c) => c.trim()),
    );
  } else {
    throw new TraceError(
      first + 1,
      `unknown trace format: expected the header "${AZURE_HEADER}", a header "timestamp,input_tokens,output_tokens[,tenant,tier]", or JSON lines`,
    );
  }
  if (rows.length === 0) throw new TraceError(0, 'the trace has a header but no rows');
  rows.sort((a, b) => a.atMs - b.atMs);
  const t0 = rows[0]!.atMs;
  return { format, rows: rows.map((r) => ({ ...r, atMs: r.atMs - t0 })) };
}

function parseCsv(lines: readonly string[], headerAt: number, columns: readonly string[]): TraceRow[] {
  const azure = columns[0] === 'TIMESTAMP';
  if (!azure) {
    const want = ['timestamp', 'input_tokens', 'output_tokens'];
    for (const [i, name] of want.entries()) {
      if (columns[i] !== name) throw new TraceError(headerAt + 1, `column ${i + 1} of the header must be "${name}", not "${columns[i] ?? ''}"`);
    }
    for (const extra of columns.slice(3)) {
      if (extra !== 'tenant' && extra !== 'tier') throw new TraceError(headerAt + 1, `unknown column "${extra}" (optional columns: tenant, tier)`);
    }
  }
  const rows: TraceRow[] = [];
  for (let i = headerAt + 1; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const line = i + 1;
    const cells = raw.split(',').map((c) => c.trim());
    if (cells.length !== columns.length) throw new TraceError(line, `expected ${columns.length} columns (${columns.join(',')}), found ${cells.length}`);
    const field = (name: string) => cells[columns.indexOf(name)];
    rows.push(
      row(line, {
        timestamp: azure ? azureTime(cells[0]!, line) : timestamp(cells[0]!, line),
        input: tokens(azure ? cells[1]! : field('input_tokens')!, azure ? 'ContextTokens' : 'input_tokens', line),
        output: tokens(azure ? cells[2]! : field('output_tokens')!, azure ? 'GeneratedTokens' : 'output_tokens', line),
        tenant: field('tenant'),
        tier: field('tier'),
      }),
    );
  }
  return rows;
}

function parseJsonl(lines: readonly string[], from: number, format: TraceFormat): TraceRow[] {
  const mooncake = format === 'mooncake-jsonl';
  const [inKey, outKey] = mooncake ? ['input_length', 'output_length'] : ['input_tokens', 'output_tokens'];
  const rows: TraceRow[] = [];
  for (let i = from; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const line = i + 1;
    const o = parseJson(raw, line);
    const hashIds = o.hash_ids;
    if (hashIds !== undefined && !(Array.isArray(hashIds) && hashIds.every((h) => Number.isInteger(h) && (h as number) >= 0))) {
      throw new TraceError(line, 'hash_ids must be a list of whole numbers');
    }
    rows.push(
      row(line, {
        timestamp: mooncake ? msNumber(o.timestamp, line) : timestamp(o.timestamp, line),
        input: tokens(o[inKey], inKey, line),
        output: tokens(o[outKey], outKey, line),
        tenant: o.tenant === undefined ? undefined : String(o.tenant),
        tier: o.tier === undefined ? undefined : String(o.tier),
        hashIds: hashIds as number[] | undefined,
      }),
    );
  }
  return rows;
}

function row(line: number, f: { timestamp: number; input: number; output: number; tenant?: string; tier?: string; hashIds?: readonly number[] }): TraceRow {
  if (f.tier !== undefined && f.tier !== '' && !TIERS.includes(f.tier)) throw new TraceError(line, `tier "${f.tier}" is not one of ${TIERS.join(', ')}`);
  return {
    line,
    atMs: f.timestamp,
    inputTokens: f.input,
    outputTokens: f.output,
    ...(f.tenant ? { tenant: f.tenant } : {}),
    ...(f.tier ? { tier: f.tier as TierName } : {}),
    ...(f.hashIds ? { hashIds: f.hashIds } : {}),
  };
}

function parseJson(raw: string, line: number): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch (e) {
    throw new TraceError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TraceError(line, 'expected a JSON object');
  return o as Record<string, unknown>;
}

function tokens(v: unknown, name: string, line: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new TraceError(line, `${name} must be a whole number of tokens, not ${JSON.stringify(v ?? null)}`);
  return n;
}

function msNumber(v: unknown, line: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TraceError(line, `timestamp must be a number of milliseconds, not ${JSON.stringify(v ?? null)}`);
  return v;
}

/** Generic timestamps: milliseconds (a number) or an ISO 8601 date-time. */
function timestamp(v: unknown, line: number): number {
  if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))) return msNumber(Number(v), line);
  const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw new TraceError(line, `timestamp must be milliseconds or an ISO 8601 date-time, not ${JSON.stringify(v ?? null)}`);
  return ms;
}

/** Azure writes `2023-11-16 18:15:46.6805900` (UTC, 100 ns digits); Date.parse takes ms. */
function azureTime(v: string, line: number): number {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$/.exec(v);
  const ms = m ? Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}Z`) : Number.NaN;
  if (!Number.isFinite(ms)) throw new TraceError(line, `TIMESTAMP must look like 2023-11-16 18:15:46.6805900, not "${v}"`);
  return ms;
}
