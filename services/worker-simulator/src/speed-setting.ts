import { z } from '@switchyard/config';
import { parseSpeed } from './domain/sim-clock.js';

/** Simulated time per real time, as an environment variable: 1 = real time, 10 = ten times faster, max = no sleeping. */
export const speedSetting = z
  .string()
  .default('1')
  .transform((s, ctx) => {
    try {
      return parseSpeed(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
