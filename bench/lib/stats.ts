// The CLI's `load --trace` reports the same percentiles; one copy, kept with it.
export { percentile, summarize, fmt } from '@switchyard/cli';
