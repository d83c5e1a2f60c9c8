// transformers.js side of the vlm4j benchmarks (BENCHMARKS.md): unmodified transformers.js on an
// onnx-community Idefics3/SmolVLM folder, greedy, a fixed number of new tokens, medians after
// warm-up. Times come from a streamer: put() is called once with the prompt and once per new token.
//
//   node bench-transformersjs.mjs --model DIR --image PNG [--new 128] [--reps 9] [--threads 1] [--nosplit]
import path from 'node:path';
import { env, AutoProcessor, RawImage, Idefics3ForConditionalGeneration } from '@huggingface/transformers';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelDir = path.resolve(opt('--model'));
const imagePath = path.resolve(opt('--image'));
const newTokens = Number(opt('--new', '128'));
const reps = Number(opt('--reps', '9'));
const threads = Number(opt('--threads', '1'));
const split = !args.includes('--nosplit');

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(modelDir) + path.sep;
const name = path.basename(modelDir);

const processor = await AutoProcessor.from_pretrained(name);
const model = await Idefics3ForConditionalGeneration.from_pretrained(name, {
  dtype: 'fp32',
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});
const messages = [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Describe this image.' }] }];
const text = processor.apply_chat_template(messages, { add_generation_prompt: true });
const image = await RawImage.read(imagePath);

class Clock {
  constructor() { this.t = []; }
  put() { this.t.push(performance.now()); }
  end() {}
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ttft = [];
const tps = [];
const pre = [];
let promptLen = 0;
for (let i = -3; i < reps; i++) {
  const t0 = performance.now();
  const inputs = await processor(text, [image], { do_image_splitting: split });
  const t1 = performance.now();
  promptLen = inputs.input_ids.dims[1];
  const clock = new Clock();
  await model.generate({ ...inputs, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false,
    streamer: clock });
  if (i < 0) continue;
  // clock.t[0]: prompt put; clock.t[1]: first new token
  pre.push(t1 - t0);
  ttft.push(clock.t[1] - t0);
  const steps = clock.t.length - 2;
  tps.push((1000 * steps) / (clock.t[clock.t.length - 1] - clock.t[1]));
}
console.log(JSON.stringify({
  model: name, split, threads, promptTokens: promptLen, newTokens,
  preprocessMs: median(pre), ttftMs: median(ttft), ttftMinusPreprocessMs: median(ttft) - median(pre),
  decodeTokensPerSecond: median(tps),
}));
