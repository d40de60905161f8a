import { describe, expect, it } from 'vitest';
import { parseTrace, TraceError } from './trace-format.js';

const error = (text: string) => {
  try {
    parseTrace(text);
  } catch (e) {
    return e as TraceError;
  }
  throw new Error('parsed');
};

describe('parseTrace', () => {
  it('reads the Azure 2023 CSV: arrivals in ms after the first row, context and generated tokens', () => {
    const t = parseTrace('TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n');
    expect(t.format).toBe('azure-csv');
    expect(t.rows).toEqual([
      { line: 2, atMs: 0, inputTokens: 374, outputTokens: 44 },
      { line: 3, atMs: 4315, inputTokens: 396, outputTokens: 109 },
    ]);
  });

  it('reads Mooncake JSONL with its hash_ids', () => {
    const t = parseTrace(
      '{"timestamp": 0, "input_length": 700, "output_length": 5, "hash_ids": [0, 1]}\n{"timestamp": 250, "input_length": 10, "output_length": 3, "hash_ids": [0]}\n',
    );
    expect(t.format).toBe('mooncake-jsonl');
    expect(t.rows[1]).toEqual({ line: 2, atMs: 250, inputTokens: 10, outputTokens: 3, hashIds: [0] });
  });

  it('reads the generic CSV with ms or ISO timestamps, tenant and tier, and sorts rows by arrival', () => {
    const t = parseTrace('timestamp,input_tokens,output_tokens,tenant,tier\n1000,10,5,acme,batch\n500,20,6,globex,realtime\n');
    expect(t.format).toBe('generic-csv');
    expect(t.rows).toEqual([
      { line: 3, atMs: 0, inputTokens: 20, outputTokens: 6, tenant: 'globex', tier: 'realtime' },
      { line: 2, atMs: 500, inputTokens: 10, outputTokens: 5, tenant: 'acme', tier: 'batch' },
    ]);
    const iso = parseTrace('timestamp,input_tokens,output_tokens\n2026-01-01T00:00:00Z,1,1\n2026-01-01T00:00:01.5Z,2,2\n');
    expect(iso.rows.map((r) => r.atMs)).toEqual([0, 1500]);
  });

  it('reads generic JSONL', () => {
    const t = parseTrace(
      '{"timestamp": "2026-01-01T00:00:02Z", "input_tokens": 3, "output_tokens": 4, "tier": "internal"}\n\n{"timestamp": "2026-01-01T00:00:00Z", "input_tokens": 1, "output_tokens": 2}\n',
    );
    expect(t.format).toBe('generic-jsonl');
    expect(t.rows).toEqual([
      { line: 3, atMs: 0, inputTokens: 1, outputTokens: 2 },
      { line: 1, atMs: 2000, inputTokens: 3, outputTokens: 4, tier: 'internal' },
    ]);
  });

  it('names the line and what is wrong with a bad row', () => {
    expect(error('TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50,abc,1\n').message).toBe(
      'line 3: ContextTokens must be a whole number of tokens, not "abc"',
    );
    expect(error('TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n').message).toMatch(/^line 2: TIMESTAMP must look like/);
    expect(error('timestamp,input_tokens,output_tokens\n1,2\n').message).toBe('line 2: expected 3 columns (timestamp,input_tokens,output_tokens), found 2');
    expect(error('timestamp,input_tokens,output_tokens,tier\n1,2,3,urgent\n').message).toBe('line 2: tier "urgent" is not one of realtime, internal, batch');
    expect(error('{"timestamp": 0, "input_length": 1, "output_length": 1}\n{"timestamp": 0, "input_length": 1,\n').message).toMatch(/^line 2: not valid JSON/);
    expect(error('{"timestamp": 0, "input_length": -4, "output_length": 1}\n').line).toBe(1);
    expect(error('timestamp,prompt,output_tokens\n').message).toBe('line 1: column 2 of the header must be "input_tokens", not "prompt"');
  });

  it('refuses an empty file, a header without rows, and an unknown format', () => {
    expect(error('').message).toBe('the trace is empty: no header and no rows');
    expect(error('\n  \n').message).toBe('the trace is empty: no header and no rows');
    expect(error('TIMESTAMP,ContextTokens,GeneratedTokens\n').message).toBe('the trace has a header but no rows');
    expect(error('when,in,out\n1,2,3\n').message).toMatch(/^line 1: unknown trace format/);
  });
});
