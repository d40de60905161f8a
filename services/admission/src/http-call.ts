import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDomainError, type TokenUsage } from '@switchyard/contracts';
import { endSpan } from '@switchyard/telemetry';
import { runGeneration, type GenerationResult } from './generation.js';
import { startRequestTrace, type RequestTrace } from './request-trace.js';
import { header, type HttpRouteContext } from './http-context.js';
import { callParams } from './domain/call-params.js';
import { openAiError } from '@switchyard/openai-wire';
import type { ChoiceResult, CompletionMeta } from './domain/openai-format.js';
import type { OpenAiCall } from './domain/openai-request.js';
import type { GenerationParams } from './domain/validate.js';

/** How one endpoint shapes its answer: whole (JSON) or as server-sent events. */
export interface AnswerFormat {
  whole(meta: CompletionMeta, choices: readonly ChoiceResult[], usage: TokenUsage): unknown;
  /** The first event of choice `index`, before any text (chat sends the role). */
  opening?(meta: CompletionMeta, index: number): unknown;
  piece(meta: CompletionMeta, text: string, index: number): unknown;
  /** The last event of choice `index`, with its finish reason. */
  closing(meta: CompletionMeta, finishReason: string, index: number): unknown;
  /** The event `stream_options.include_usage` asks for, after every choice ended. */
  usage(meta: CompletionMeta, usage: TokenUsage): unknown;
}

const sumUsage = (results: readonly GenerationResult[]): TokenUsage => ({
  inputTokens: results.reduce((a, r) => a + r.usage.inputTokens, 0),
  cachedInputTokens: results.reduce((a, r) => a + r.usage.cachedInputTokens, 0),
  outputTokens: results.reduce((a, r) => a + r.usage.outputTokens, 0),
});

/**
 * The parameters of each of a call's `n` choices. Each choice is a request of its own
 * (admitted, limited, budgeted and billed once), so choice i gets its own seed (the caller's
 * seed + i, or a fresh one) and its own idempotency key (`<key>:choice-<i>`). All are checked
 * before any runs, so a bad request spends nothing.
 */
function choiceParams(context: HttpRouteContext, req: FastifyRequest, call: OpenAiCall): GenerationParams[] {
  const { deps } = context;
  const principal = context.principalOf(req);
  return Array.from({ length: call.choices }, (_, i) =>
    callParams(deps.limits, deps.encodePrompt, deps.models(), principal, { ...call.input, seed: call.input.seed && call.input.seed + i }),
  );
}

/** The call and its choices' parameters; a call refused here is counted as invalid. */
function parsed(context: HttpRouteContext, req: FastifyRequest, parse: () => OpenAiCall) {
  try {
    const call = parse();
    return { call, params: choiceParams(context, req, call) };
  } catch (e) {
    context.deps.generation.metrics?.refused('invalid');
    throw e;
  }
}

/**
 * Runs one OpenAI call through the generation path and answers it as JSON (every choice,
 * usage summed over them: what is billed) or as server-sent events (the choices' chunks as
 * they come, each with its index). A choice that fails cancels the others, and the call
 * answers the first failure: as an error status while nothing was sent, else as an error
 * event in place of `[DONE]`. The call is one trace (the caller's `traceparent` continued, or
 * a new one), its choices' requests in it; the answer's `traceparent` header names it.
 */
export async function serveCall(context: HttpRouteContext, req: FastifyRequest, reply: FastifyReply, parse: () => OpenAiCall, format: AnswerFormat) {
  const trace = startRequestTrace(header(req.headers.traceparent));
  void reply.header('traceparent', trace.traceparent);
  let failure: unknown;
  try {
    return await answerCall(context, req, reply, parse, format, trace);
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    endSpan(trace.span, failure ?? (reply.statusCode >= 400 ? `answered ${reply.statusCode}` : undefined));
  }
}

async function answerCall(
  context: HttpRouteContext,
  req: FastifyRequest,
  reply: FastifyReply,
  parse: () => OpenAiCall,
  format: AnswerFormat,
  trace: RequestTrace,
) {
  const { deps } = context;
  const abort = new AbortController();
  let finishOnDisconnect = false;
  // The response's 'close', not the request's: a request closes once its body is read, which
  // cancelled every call at once. A response closes unfinished only when the client left.
  const callerLeft = () => {
    if (!reply.raw.writableFinished && !finishOnDisconnect) abort.abort();
  };
  reply.raw.on('close', callerLeft);
  try {
    const { call, params } = parsed(context, req, parse);
    finishOnDisconnect = call.finishOnDisconnect;
    // A caller that left while its body was read, before this handler ran, closed the response
    // before the listener above was there: it is not served (nor admitted) either.
    if (reply.raw.destroyed) callerLeft();
    const principal = context.principalOf(req);
    const model = params[0]!.model;
    const createdSec = Math.floor(deps.generation.now() / 1000);
    const send = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
    // A stream opens when its first choice is admitted; its id is that request's.
    let streamMeta: CompletionMeta | undefined;
    const opened = (requestId: string): CompletionMeta => {
      if (streamMeta) return streamMeta;
      streamMeta = { requestId, model, createdSec };
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': requestId,
        traceparent: trace.traceparent,
      });
      return streamMeta;
    };
    let firstFailure: unknown;
    const texts = params.map(() => [] as string[]);
    const settled = await Promise.allSettled(
      params.map((p, i) =>
        runGeneration(deps.generation, principal, p, {
          signal: abort.signal,
          deadlineUnixMs: call.deadlineUnixMs,
          idempotencyKey: callKey(call, i),
          trace,
          onStarted: (requestId) => {
            if (!call.stream) return;
            const meta = opened(requestId);
            if (format.opening) send(format.opening(meta, i));
          },
          onChunk: (text) => void (call.stream ? send(format.piece(streamMeta!, text, i)) : texts[i]!.push(text)),
        }).then(
          (result) => {
            if (call.stream) send(format.closing(streamMeta!, result.finishReason, i));
            return result;
          },
          (e: unknown) => {
            firstFailure ??= e;
            abort.abort();
            throw e;
          },
        ),
      ),
    );
    if (firstFailure !== undefined) throw firstFailure;
    const results = settled.map((s) => (s as PromiseFulfilledResult<GenerationResult>).value);
    if (!call.stream) {
      void reply.header('x-request-id', results[0]!.requestId);
      const choices = results.map((r, i) => ({ text: texts[i]!.join(''), finishReason: r.finishReason }));
      return format.whole({ requestId: results[0]!.requestId, model, createdSec }, choices, sumUsage(results));
    }
    if (call.includeUsage) send(format.usage(streamMeta!, sumUsage(results)));
    reply.raw.end('data: [DONE]\n\n');
  } catch (e) {
    if (!reply.sent && !reply.raw.headersSent) return context.sendError(reply, e);
    // Headers are gone: end the stream with an error event, never a silent [DONE]; a client
    // that left gets nothing.
    if (reply.raw.destroyed) return;
    const { body } = isDomainError(e) ? openAiError(e.code, e.message, e.reason) : openAiError('INTERNAL', 'internal error');
    reply.raw.end(`data: ${JSON.stringify(body)}\n\n`);
  }
}

/** The idempotency key of choice `i`: the caller's for choice 0, derived for the others. */
const callKey = (call: OpenAiCall, i: number) => {
  const key = call.input.idempotencyKey;
  return key && i > 0 ? `${key}:choice-${i}` : key;
};
