/**
 * The lines of a batch's output and error files, in OpenAI's format: one JSON object per
 * `custom_id`, with the upstream answer under `response` or the reason it never ran under
 * `error`. Both files hold each `custom_id` at most once, so a caller can join on it.
 */
export interface ItemOutcome {
  /** 1-based input line. */
  readonly line: number;
  readonly customId: string | null;
  /** HTTP status and JSON body of the answer, when the request ran. */
  readonly response?: { readonly statusCode: number; readonly requestId: string; readonly body: unknown };
  /** Why there is no successful answer. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Ids of result lines: stable per batch and line, so a rewritten file says the same thing. */
export const resultLineId = (batchId: string, line: number) => `batch_req_${batchId.replace(/^batch_/, '')}_${line}`;

/** Successful answers go to the output file; everything else to the error file. */
export const isSuccess = (o: ItemOutcome) => o.response !== undefined && o.response.statusCode === 200;

export function resultLine(batchId: string, o: ItemOutcome): string {
  return JSON.stringify({
    id: resultLineId(batchId, o.line),
    custom_id: o.customId,
    response: o.response ? { status_code: o.response.statusCode, request_id: o.response.requestId, body: o.response.body } : null,
    error: o.error ? { code: o.error.code, message: o.error.message, line: o.line } : null,
  });
}
