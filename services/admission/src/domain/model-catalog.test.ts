import { describe, expect, it } from 'vitest';
import { buildCatalog, requireKnownModel, routeNames } from './model-catalog.js';

const served = new Map([
  ['llama-3.1-8b', 1_000],
  ['llama-3.2-1b', 2_000],
]);
const routes = new Map([
  [
    'chat-large',
    routeNames(
      {
        versions: [
          { version: 'llama-3.1-8b', weight: 9 },
          { version: 'llama-3.1-8b-v2', weight: 1 },
        ],
      },
      5_000,
    )!,
  ],
  ['chat-small', routeNames({ versions: [{ version: 'llama-3.2-3b', weight: 1 }] }, 5_500)!],
  ['auto', routeNames({ versions: [], auto: { small: 'chat-small', large: 'chat-large' } }, 6_000)!],
]);

describe('buildCatalog', () => {
  it('lists served versions and the routes and hints that lead to one, each with when it appeared', () => {
    const catalog = buildCatalog(served, routes);
    expect([...catalog.values()].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'auto', kind: 'alias', createdUnixMs: 6_000 },
      { id: 'auto:large', kind: 'hint', createdUnixMs: 6_000 },
      { id: 'chat-large', kind: 'alias', createdUnixMs: 5_000 },
      { id: 'llama-3.1-8b', kind: 'model', createdUnixMs: 1_000 },
      { id: 'llama-3.2-1b', kind: 'model', createdUnixMs: 2_000 },
    ]);
  });

  it('leaves out what leads to nothing served: an unserved route version, its route, and the hint that picks it', () => {
    const catalog = buildCatalog(served, routes);
    for (const id of ['llama-3.1-8b-v2', 'chat-small', 'auto:small', 'llama-3.2-3b']) expect(catalog.has(id)).toBe(false);
    expect(buildCatalog(new Map([['llama-3.2-3b', 7_000]]), routes).has('auto:small')).toBe(true);
  });

  it('reads only the names of a route, and nothing from a value that is not one', () => {
    expect(routeNames({ versions: [{ version: 'a' }, { weight: 1 }, null] }, 1)).toEqual({ versions: ['a'], writtenUnixMs: 1 });
    expect(routeNames({ versions: [], auto: { small: 's', large: 'l' } }, 1)).toEqual({ versions: [], auto: { small: 's', large: 'l' }, writtenUnixMs: 1 });
    expect(routeNames('chat-large', 1)).toBeUndefined();
    expect(routeNames({ auto: {} }, 1)).toBeUndefined();
  });
});

describe('requireKnownModel', () => {
  const catalog = buildCatalog(served, routes);

  it('lets every listed name through', () => {
    for (const id of catalog.keys()) expect(() => requireKnownModel(catalog, id)).not.toThrow();
  });

  it('refuses an unknown name as NOT_FOUND model_not_found, naming what is available', () => {
    expect(() => requireKnownModel(catalog, 'gpt-4o')).toThrow(
      expect.objectContaining({
        code: 'NOT_FOUND',
        reason: 'model_not_found',
        message: 'the model "gpt-4o" does not exist or is not served here; available: auto, auto:large, chat-large, llama-3.1-8b, llama-3.2-1b',
      }),
    );
  });

  it('says why nothing is available when no scheduler has announced a model yet', () => {
    expect(() => requireKnownModel(new Map(), 'llama-3.1-8b')).toThrow(
      /available: none yet \(the scheduler announces the models its pools serve when it starts\)/,
    );
  });

  it('never echoes a long or odd name, and bounds the list', () => {
    const many = buildCatalog(new Map(Array.from({ length: 50 }, (_, i) => [`m-${String(i).padStart(2, '0')}`, 0])), new Map());
    const error = (() => {
      try {
        requireKnownModel(many, `x\n${'y'.repeat(100)}`);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('the model of 102 characters does not exist');
    expect(error?.message).toContain('m-39 and 10 more (GET /v1/models)');
    expect(error?.message).not.toContain('m-40');
  });
});
