import { cardDetector } from './card.js';
import { emailDetector } from './email.js';
import { highEntropyDetector } from './high-entropy.js';
import { ibanDetector } from './iban.js';
import { encodedInjectionDetector } from './injection-encoded.js';
import { overrideInstructionsDetector, promptLeakDetector, rolePlayDetector } from './injection-phrases.js';
import { ipDetector } from './ip.js';
import { phoneDetector } from './phone.js';
import { privateKeyDetector } from './private-key.js';
import { secretAssignmentDetector } from './secret-assignment.js';
import { providerKeyDetector } from './secret-provider.js';
import { ssnDetector } from './ssn.js';
import type { Detector } from './types.js';

/** Every built-in detector, in no significant order. Tenant patterns come on top. */
export const builtinDetectors: readonly Detector[] = [
  emailDetector,
  phoneDetector,
  cardDetector,
  ssnDetector,
  ibanDetector,
  ipDetector,
  providerKeyDetector,
  privateKeyDetector,
  highEntropyDetector,
  secretAssignmentDetector,
  overrideInstructionsDetector,
  rolePlayDetector,
  promptLeakDetector,
  encodedInjectionDetector,
];

export {
  cardDetector,
  emailDetector,
  encodedInjectionDetector,
  highEntropyDetector,
  ibanDetector,
  ipDetector,
  overrideInstructionsDetector,
  phoneDetector,
  privateKeyDetector,
  promptLeakDetector,
  providerKeyDetector,
  rolePlayDetector,
  secretAssignmentDetector,
  ssnDetector,
};
export { categories } from './types.js';
export type { CategorizedMatch, Category, Detector, Match } from './types.js';
export { createPatternDetector, MAX_PATTERN_LENGTH } from './pattern.js';
export type { PatternDetectorOptions, RegexPattern } from './pattern.js';
export { redact, defaultLabel } from './redact.js';
export { scan, categorizedMatches } from './scan.js';
export type { Finding } from './scan.js';
export { luhnValid } from './luhn.js';
export { ibanChecksumValid } from './iban-checksum.js';
export { shannonEntropy } from './entropy.js';
