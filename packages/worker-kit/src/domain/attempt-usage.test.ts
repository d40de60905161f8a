import { Outcome } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { attemptUsageId } from './attempt-usage.js';

const ref = { requestId: 'r1', pool: 'p', workerId: 'w0', attempt: 1 };

describe('attemptUsageId', () => {
  it('bills a completion once per request, whichever attempt completed it', () => {
    expect(attemptUsageId({ ...ref, outcome: Outcome.OUTCOME_COMPLETED })).toBe('usage-r1');
    expect(attemptUsageId({ ...ref, attempt: 3, workerId: 'w9', outcome: Outcome.OUTCOME_COMPLETED })).toBe('usage-r1');
  });

  it('gives each unfinished attempt its own id, never the completion’s', () => {
    const ids = [
      attemptUsageId({ ...ref, outcome: Outcome.OUTCOME_FAILED }),
      attemptUsageId({ ...ref, attempt: 2, outcome: Outcome.OUTCOME_FAILED }),
      attemptUsageId({ ...ref, workerId: 'w1', outcome: Outcome.OUTCOME_FAILED }),
      attemptUsageId({ ...ref, pool: 'q', outcome: Outcome.OUTCOME_FAILED }),
      attemptUsageId({ ...ref, outcome: Outcome.OUTCOME_CANCELLED }),
      attemptUsageId({ ...ref, outcome: Outcome.OUTCOME_EXPIRED }),
      attemptUsageId({ ...ref, outcome: Outcome.OUTCOME_COMPLETED }),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('usage-r1-failed-p-w0-1');
  });
});
