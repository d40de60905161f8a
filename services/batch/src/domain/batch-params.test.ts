import { describe, expect, it } from 'vitest';
import { BATCH_ID, batchParams, FILE_ID } from './batch-params.js';

const valid = { inputFileId: 'file-abc123', endpoint: '/v1/chat/completions', completionWindow: '24h' };

describe('batchParams', () => {
  it('takes string metadata and refuses a NUL in a key or value, which Postgres cannot store', () => {
    expect(batchParams({ ...valid, metadata: { job: 'nightly' } }).metadata).toEqual({ job: 'nightly' });
    expect(() => batchParams({ ...valid, metadata: { job: 'night\0ly' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/NUL/) }),
    );
    expect(() => batchParams({ ...valid, metadata: { 'j\0b': 'x' } })).toThrow(/NUL/);
  });
});

describe('id shapes', () => {
  it('match the ids the service hands out and nothing with other characters', () => {
    expect(FILE_ID.test('file-8a12dbe1b2f64b37851038683ffb3e64out')).toBe(true);
    expect(BATCH_ID.test('batch_8a12dbe1b2f64b37851038683ffb3e64')).toBe(true);
    for (const id of ['file-a\0', 'file-', 'batch_x/../y', 'file-ä', `file-${'a'.repeat(65)}`]) expect(FILE_ID.test(id) || BATCH_ID.test(id)).toBe(false);
  });
});
