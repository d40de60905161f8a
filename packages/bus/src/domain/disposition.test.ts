import { DomainError } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { dispositionForError } from './disposition.js';

const policy = { maxDeliver: 3, backoffMs: [100, 400] };

describe('dispositionForError', () => {
  it('redelivers a transient failure with growing backoff', () => {
    const e = new DomainError('UNAVAILABLE', 'pool down');
    expect(dispositionForError(e, 1, policy)).toEqual({ kind: 'nak', delayMs: 100 });
    expect(dispositionForError(e, 2, policy)).toEqual({ kind: 'nak', delayMs: 400 });
  });

  it('honours the retry delay an error asks for', () => {
    const e = new DomainError('UNAVAILABLE', 'busy', { retryAfterMs: 750 });
    expect(dispositionForError(e, 1, policy)).toEqual({ kind: 'nak', delayMs: 750 });
  });

  it('dead-letters on the last allowed delivery instead of dropping silently', () => {
    const d = dispositionForError(new Error('boom'), 3, policy);
    expect(d.kind).toBe('dead-letter');
    expect(d.kind === 'dead-letter' && d.reason).toContain('after 3 deliveries: boom');
  });

  it('dead-letters a non-retryable error at once', () => {
    const e = new DomainError('INVALID_ARGUMENT', 'undecodable event');
    expect(dispositionForError(e, 1, policy)).toEqual({ kind: 'dead-letter', reason: 'undecodable event' });
  });
});
