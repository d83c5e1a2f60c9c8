// Model load time only (benchmarks/load.sh): transformers.js from_pretrained of the processor and the
// model, fp32, THREADS intra-op threads, 1 inter-op thread, no spinning (as the other benchmarks'
// --no-spin). Prints "load_ms <ms>".
//   node bench-transformersjs-load.mjs FOLDER (vlm|florence) THREADS
import path from 'node:path';
import { env, AutoProcessor, AutoModelForImageTextToText, Florence2ForConditionalGeneration } from '@huggingface/transformers';
import { useLocalFolder, sessionOptions } from './bench-common.mjs';

const [dir, kind, threads] = [path.resolve(process.argv[2]), process.argv[3], Number(process.argv[4])];
const name = useLocalFolder(env, path, dir);
const t0 = performance.now();
await AutoProcessor.from_pretrained(name);
const Model = kind === 'florence' ? Florence2ForConditionalGeneration : AutoModelForImageTextToText;
await Model.from_pretrained(name, { dtype: 'fp32', session_options: sessionOptions(threads, true) });
console.log(`load_ms ${(performance.now() - t0).toFixed(0)}`);
