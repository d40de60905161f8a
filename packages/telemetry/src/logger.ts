import { pino, type Logger } from 'pino';

/**
 * Prompt and completion text must never reach a log line, at any depth we log objects.
 * pino's redaction is path based, so every name that carries text is listed here.
 */
const TEXT_FIELDS = ['prompt', 'text', 'completion', 'content', 'messages', 'redactedText', 'output', 'input'];
export const REDACT_PATHS = [
  ...TEXT_FIELDS,
  ...TEXT_FIELDS.map((f) => `*.${f}`),
  ...TEXT_FIELDS.map((f) => `*.*.${f}`),
  'authorization',
  '*.authorization',
  'apiKey',
  '*.apiKey',
];

export interface LoggerOptions {
  readonly service: string;
  /** Default `info`. */
  readonly level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  readonly destination?: NodeJS.WritableStream;
}

/** A JSON logger that censors prompt/completion text and credentials. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.service,
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: options.service },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

export type { Logger };
