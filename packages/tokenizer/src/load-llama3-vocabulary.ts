import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeLlama3Vocabulary, type Llama3Vocabulary } from './domain/llama3-vocabulary.js';

/** The text between `const <name> = "` and the next quote in the bundle. */
function bakedString(bundle: string, name: string): string {
  const opening = `const ${name} = "`;
  const from = bundle.indexOf(opening);
  if (from < 0) throw new Error(`llama3-tokenizer-js: ${name} not found in its bundle; was the package upgraded?`);
  const to = bundle.indexOf('"', from + opening.length);
  return bundle.slice(from + opening.length, to);
}

/**
 * Reads the vocabulary and merges llama3-tokenizer-js bakes into its bundle, without running the
 * library: running it costs ~0.8 s of CPU and keeps ~100 MB of strings and Maps resident, while
 * decoding its base64 data into typed arrays takes a fraction of that and keeps ~10 MB.
 */
export function loadLlama3Vocabulary(): Llama3Vocabulary {
  const bundle = readFileSync(createRequire(import.meta.url).resolve('llama3-tokenizer-js'), 'utf8');
  return decodeLlama3Vocabulary(
    Buffer.from(bakedString(bundle, 'llama_vocab_base64'), 'base64'),
    Buffer.from(bakedString(bundle, 'llama_merges_binary'), 'base64'),
  );
}
