import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('createLogger', () => {
  it('never writes prompt or completion text, however deep it is logged', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c) => lines.push(c.toString()));
    const log = createLogger({ service: 't', destination: out });
    log.info({ prompt: 'SECRET-1', request: { prompt: 'SECRET-2', model: 'm' }, chunk: { text: 'SECRET-3' } }, 'admitted');
    log.info({ req: { body: { messages: 'SECRET-4' } } }, 'http');
    await new Promise((r) => setImmediate(r));
    const all = lines.join('');
    expect(all).toContain('admitted');
    expect(all).toContain('"model":"m"');
    expect(all).not.toMatch(/SECRET-\d/);
  });
});
