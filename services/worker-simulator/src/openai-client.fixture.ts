/** A completion as a test reads it back from the engine server: every SSE event, and how the stream ended. */
export interface ReadStream {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed `data:` payloads, `[DONE]` kept as the string. */
  readonly events: unknown[];
  /** Content of every chunk, in order (chat `delta.content` or completion `text`). */
  readonly pieces: string[];
  readonly finishReasons: string[];
  readonly usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
  readonly done: boolean;
  /** The connection failed before the body ended (a cut). */
  readonly error: unknown;
}

export const chatBody = (fields: Record<string, unknown> = {}) => ({
  model: 'llama-3.2-1b',
  messages: [{ role: 'user', content: 'Say something about switchyards.' }],
  max_tokens: 16,
  stream: true,
  stream_options: { include_usage: true },
  ...fields,
});

export const post = (url: string, body: unknown, init: RequestInit = {}) =>
  fetch(url, {
    method: 'POST',
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** POSTs a streaming completion and reads it to its end (or its cut). */
export async function readCompletionStream(url: string, body: unknown, init: RequestInit = {}): Promise<ReadStream> {
  const res = await post(url, body, init);
  let text = '';
  let error: unknown;
  try {
    const decoder = new TextDecoder();
    for await (const bytes of res.body!) text += decoder.decode(bytes as Uint8Array, { stream: true });
  } catch (e) {
    error = e;
  }
  const events = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6))
    .map((d) => (d === '[DONE]' ? d : (JSON.parse(d) as unknown)));
  const pieces: string[] = [];
  const finishReasons: string[] = [];
  let usage: ReadStream['usage'];
  for (const e of events) {
    if (e === '[DONE]') continue;
    const o = e as { choices: Array<{ delta?: { content?: string }; text?: string; finish_reason: string | null }>; usage?: ReadStream['usage'] };
    const choice = o.choices[0];
    const piece = choice?.delta?.content ?? choice?.text;
    if (piece) pieces.push(piece);
    if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
    if (o.usage) usage = o.usage;
  }
  return { status: res.status, headers: res.headers, events, pieces, finishReasons, usage, done: events.at(-1) === '[DONE]', error };
}

/** The value of one sample of a Prometheus text exposition, by its series as written. */
export async function scrape(metricsUrl: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
