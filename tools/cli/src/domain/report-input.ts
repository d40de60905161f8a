import type { ReportForecast, ReportRun } from './report-data.js';

/** What a RUN.json or FORECAST.json lacks, in words a user can act on. */
export class ReportInputError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the parsed `switchyard load --json` output has what a report reads; `file` names it in errors. */
export function checkRun(value: unknown, file: string): ReportRun {
  const missing = (what: string) => new ReportInputError(`${file} is not the output of \`switchyard load --json\`: ${what}`);
  if (!isObject(value)) throw missing('expected a JSON object');
  if (!isObject(value.options) || typeof value.options.model !== 'string') throw missing('options.model is missing');
  if (typeof value.windowS !== 'number') throw missing('windowS is missing');
  if (!isObject(value.tiers)) throw missing('tiers is missing');
  if (!isObject(value.all)) throw missing('all is missing');
  if (!Array.isArray(value.records)) throw missing('records (the per-request records) is missing');
  value.records.forEach((r: unknown, i) => {
    if (!isObject(r) || typeof r.tier !== 'string' || typeof r.tenant !== 'string' || typeof r.sentMs !== 'number' || typeof r.outcome !== 'string')
      throw missing(`records[${i}] lacks tier, tenant, sentMs or outcome`);
  });
  return value as unknown as ReportRun;
}

/** Checks the parsed `switchyard forecast --json` output has what a report reads. */
export function checkForecast(value: unknown, file: string): ReportForecast {
  const missing = (what: string) => new ReportInputError(`${file} is not the output of \`switchyard forecast --json\`: ${what}`);
  if (!isObject(value) || !Array.isArray(value.scales)) throw missing('scales is missing');
  value.scales.forEach((s: unknown, i) => {
    if (!isObject(s) || typeof s.scale !== 'number' || !isObject(s.summary) || !Array.isArray(s.summary.pools) || !isObject(s.summary.tiers))
      throw missing(`scales[${i}] lacks scale, summary.tiers or summary.pools`);
  });
  return value as unknown as ReportForecast;
}
