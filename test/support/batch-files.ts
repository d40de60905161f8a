import { waitFor } from '@switchyard/testing';
import type OpenAI from 'openai';

/** One line of a batch input file: a chat completion with its `custom_id`. */
export const chatLine = (customId: string, content: string, over: Record<string, unknown> = {}, maxTokens = 8) =>
  JSON.stringify({
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'llama-3.1-8b', messages: [{ role: 'user', content }], max_tokens: maxTokens },
    ...over,
  });

/** `count` chat lines `<prefix>-0`, `<prefix>-1`, ... as one JSONL text. */
export const chatLines = (count: number, prefix: string, maxTokens = 8) =>
  Array.from({ length: count }, (_, i) => chatLine(`${prefix}-${i}`, `${prefix} ${i}`, {}, maxTokens)).join('\n');

/** A line of a batch's output or error file. */
export interface ResultLine {
  readonly custom_id: string | null;
  readonly response: { readonly status_code: number; readonly request_id: string; readonly body: unknown } | null;
  readonly error: { readonly code: string; readonly message: string; readonly line: number } | null;
}

/** The lines of a result file, downloaded through the Files API; none for an absent file. */
export async function readResultLines(openai: OpenAI, fileId: string | null | undefined): Promise<ResultLine[]> {
  if (!fileId) return [];
  return (await (await openai.files.content(fileId)).text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);
}

/** Polls a batch until it reaches a terminal status. */
export const batchEnded = (openai: OpenAI, id: string, timeoutMs = 120_000) =>
  waitFor(
    `batch ${id} ends`,
    async () => {
      const b = await openai.batches.retrieve(id);
      return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : undefined;
    },
    timeoutMs,
  );
