import { describe, expect, it } from 'vitest';
import { buildCatalog, routeNames } from './model-catalog.js';
import { modelById, modelList } from './openai-models.js';

const catalog = buildCatalog(
  new Map([['llama-3.1-8b', 1_700_000_000_500]]),
  new Map([['chat-large', routeNames({ versions: [{ version: 'llama-3.1-8b' }] }, 1_700_000_100_000)!]]),
);

describe('models', () => {
  it('lists every name sorted, with created in Unix seconds', () => {
    expect(modelList(catalog)).toEqual({
      object: 'list',
      data: [
        { id: 'chat-large', object: 'model', created: 1_700_000_100, owned_by: 'switchyard' },
        { id: 'llama-3.1-8b', object: 'model', created: 1_700_000_000, owned_by: 'switchyard' },
      ],
    });
  });

  it('finds one by id, and refuses an unknown one as model_not_found', () => {
    expect(modelById(catalog, 'chat-large').id).toBe('chat-large');
    expect(() => modelById(catalog, 'gpt-4')).toThrow(expect.objectContaining({ code: 'NOT_FOUND', reason: 'model_not_found' }));
  });
});
