import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Thrown when configuration is invalid; the message lists every problem at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/**
 * Parses environment variables with a zod schema whose keys are the variable names.
 * Only composition roots call this, with `process.env`.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new ConfigError(describeIssues('the environment', result.error));
  return result.data;
}

/** Reads and validates a YAML (or JSON) file. */
export function loadYamlFile<S extends z.ZodType>(path: string, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(path, result.error));
  return result.data;
}
