// Runs transformers.js 4.3.1's own Florence2Processor (processing_florence2.js, unmodified; imported by
// file path, constructed offline with the corpus's Florence-2 processor configuration and no
// tokenizer, which construct_prompts and post_process_generation do not use) over the corpus
// src/test/resources/fixtures/florence_post_corpus.json and writes its answers as JSON:
//   cases:   post_process_generation(text, task, [width, height]) (the returned object, or the error
//            message it throws; non-finite numbers written as the strings "Infinity"/"NaN")
//   prompts: construct_prompts(task + (input ?? ''))[0]
// The image size is [width, height], as transformers.js's Florence-2 usage passes RawImage.size (the
// method's comment says "height x width", but it scales even positions, the x coordinates, by
// image_size[0]). FlorencePostProcessorTest holds the Java parser to the committed output
// florence_post_tjs.json; PeerParityTest reruns this script and compares its output with that file.
//
//   node florence-post-check.mjs [--corpus FILE] [--json OUT]   (default OUT: stdout)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.indexOf(name) >= 0 ? args[args.indexOf(name) + 1] : fallback);
const corpusFile = opt('--corpus', path.join(here, '..', 'resources', 'fixtures', 'florence_post_corpus.json'));
const out = opt('--json', null);

const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/@huggingface/transformers/package.json'), 'utf8'));
const { Florence2Processor } = await import(
  './node_modules/@huggingface/transformers/src/models/florence2/processing_florence2.js');

const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8'));
const processor = new Florence2Processor({}, { image_processor: { config: corpus.processor_config } });

const finite = (key, value) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
const cases = corpus.cases.map((c) => {
  try {
    return { name: c.name, result: processor.post_process_generation(c.text, c.task, [c.width, c.height]) };
  } catch (e) {
    return { name: c.name, error: String(e.message) };
  }
});
const prompts = corpus.prompts.map((p) => ({
  name: p.name,
  prompt: processor.construct_prompts(p.task + (p.input ?? ''))[0],
}));
const json = JSON.stringify({ transformers_js: pkg.version, cases, prompts }, finite, 1) + '\n';
if (out) fs.writeFileSync(out, json); else process.stdout.write(json);
const errors = cases.filter((c) => c.error).length;
console.error(`florence-post: transformers.js ${pkg.version} answered ${cases.length} post-processing cases `
  + `(${errors} raise) and ${prompts.length} prompts`);
