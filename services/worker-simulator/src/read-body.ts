import type { IncomingMessage } from 'node:http';

/** A request's body as text; undefined once it grows past `maxBytes` (the rest is not read). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    const buffer = part as Buffer;
    size += buffer.length;
    if (size > maxBytes) return undefined;
    parts.push(buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}
