export { parsePeriod, periodOf, type Period } from '@switchyard/pricing';

/** Start of the hour that holds `unixMs`. */
export const hourOf = (unixMs: number): number => Math.floor(unixMs / 3_600_000) * 3_600_000;
