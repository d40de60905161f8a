export { openAiError, httpRefusal } from './errors.js';
