export { openAiError, httpRefusal, clientErrorRefusal, retryAfterSeconds } from './errors.js';
