import { describe, expect, it } from 'vitest';
import { routeSchema, type Route } from '../../config.js';
import { resolveModel, type RequestFeatures } from './routing.js';

const route = (r: unknown): Route => routeSchema.parse(r);
const routes = new Map<string, Route>([
  [
    'chat-large',
    route({
      versions: [
        { version: 'llama-3.1-8b', weight: 80 },
        { version: 'llama-3.1-8b-v2', weight: 20 },
      ],
      canary: { version: 'llama-3.1-8b-v2' },
    }),
  ],
  ['chat-small', route({ versions: [{ version: 'llama-3.2-1b', weight: 1 }] })],
  ['auto', route({ auto: { small: 'chat-small', large: 'chat-large', maxSmallPromptTokens: 512, maxSmallOutputTokens: 256 } })],
  ['loop-a', route({ versions: [{ version: 'loop-b', weight: 1 }] })],
]);
const short: RequestFeatures = { promptTokens: 100, maxTokens: 64, tier: 'realtime' };

describe('model routing', () => {
  it('splits an alias over its versions by weight and flags the canary', () => {
    expect(resolveModel('chat-large', short, routes, 0.5)).toMatchObject({ kind: 'version', version: 'llama-3.1-8b', canary: false, via: ['chat-large'] });
    const canary = resolveModel('chat-large', short, routes, 0.85);
    expect(canary).toMatchObject({ kind: 'version', version: 'llama-3.1-8b-v2', canary: true });
    expect(canary.kind === 'version' && canary.reason).toBe('chat-large -> llama-3.1-8b-v2 (20% of traffic, canary)');
  });

  it('sends a rolled-back canary nothing', () => {
    const back = new Map(routes).set('chat-large', route({ ...routes.get('chat-large'), canary: { version: 'llama-3.1-8b-v2', status: 'rolled-back' } }));
    for (const draw of [0, 0.5, 0.85, 0.99]) expect(resolveModel('chat-large', short, back, draw)).toMatchObject({ version: 'llama-3.1-8b' });
  });

  it('auto takes the small model for short realtime work and the large one otherwise', () => {
    expect(resolveModel('auto', short, routes, 0)).toMatchObject({ version: 'llama-3.2-1b', via: ['auto', 'chat-small'] });
    expect(resolveModel('auto', { ...short, promptTokens: 2_000 }, routes, 0)).toMatchObject({ version: 'llama-3.1-8b' });
    expect(resolveModel('auto', { ...short, maxTokens: 1_000 }, routes, 0)).toMatchObject({ version: 'llama-3.1-8b' });
    const batch = resolveModel('auto', { ...short, tier: 'batch' }, routes, 0);
    expect(batch.kind === 'version' && batch.reason).toContain('batch tier');
  });

  it('honours an explicit :small / :large hint', () => {
    expect(resolveModel('auto:large', short, routes, 0)).toMatchObject({ version: 'llama-3.1-8b' });
    expect(resolveModel('auto:small', { ...short, promptTokens: 5_000 }, routes, 0)).toMatchObject({ version: 'llama-3.2-1b' });
    expect(resolveModel('nope:small', short, routes, 0)).toMatchObject({ kind: 'unknown' });
  });

  it('takes a name without a route as a version, and stops on loops', () => {
    expect(resolveModel('llama-3.1-8b', short, routes, 0)).toMatchObject({ kind: 'version', version: 'llama-3.1-8b', via: [] });
    const loops = new Map(routes).set('loop-b', route({ versions: [{ version: 'loop-a', weight: 1 }] }));
    expect(resolveModel('loop-a', short, loops, 0)).toMatchObject({ kind: 'unknown' });
  });

  it('refuses a route whose weights are all zero', () => {
    const zero = new Map([['z', route({ versions: [{ version: 'a', weight: 0 }] })]]);
    expect(resolveModel('z', short, zero, 0.3)).toMatchObject({ kind: 'unknown' });
  });
});
