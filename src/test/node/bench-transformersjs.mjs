// transformers.js side of the vlm4j benchmarks (BENCHMARKS.md): unmodified transformers.js on an
// onnx-community Idefics3/SmolVLM folder, greedy, a fixed number of new tokens, medians after
// warm-up. Times come from a streamer: put() is called once with the prompt and once per new token.
//
//   node bench-transformersjs.mjs --model DIR --image PNG [--new 128] [--reps 9] [--warmup 3] [--threads 1]
//        [--nosplit] [--dtype fp32|q8] [--context N] [--csv FILE]
// --context pads the prompt text like RawLoopComparison does; --csv appends one row in its format.
import fs from 'node:fs';
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
const dtype = opt('--dtype', 'fp32');
const context = Number(opt('--context', '0'));
const warmup = Number(opt('--warmup', '3'));
const csv = opt('--csv', null);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(modelDir) + path.sep;
const name = path.basename(modelDir);

const processor = await AutoProcessor.from_pretrained(name);
const model = await Idefics3ForConditionalGeneration.from_pretrained(name, {
  dtype,
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});
const image = await RawImage.read(imagePath);
const render = (t) => processor.apply_chat_template(
  [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: t }] }], { add_generation_prompt: true });
const count = async (t) => (await processor(render(t), [image], { do_image_splitting: split })).input_ids.dims[1];
let question = 'Describe this image.';
if (context > 0) {   // the same padding as RawLoopComparison
  const unit = 'The quick brown fox jumps over the lazy dog. ';
  const base = await count(question);
  const per = (await count(unit.repeat(10) + question)) - base;
  question = unit.repeat(Math.max(0, Math.ceil(((context - base) * 10) / per))) + question;
}
const text = render(question);

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
let frames = 0;
for (let i = -warmup; i < reps; i++) {
  const t0 = performance.now();
  const inputs = await processor(text, [image], { do_image_splitting: split });
  const t1 = performance.now();
  promptLen = inputs.input_ids.dims[1];
  frames = inputs.pixel_values.dims[1];
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
const peakRssMib = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({
  model: name, dtype, split, threads, frames, promptTokens: promptLen, newTokens, reps,
  preprocessMs: median(pre), ttftMs: median(ttft), ttftMinusPreprocessMs: median(ttft) - median(pre),
  decodeTokensPerSecond: median(tps), peakRssMib,
}));
if (csv) {   // RawLoopComparison's columns; vision and prefill are not observable from outside transformers.js
  const f = (x, d = 2) => x.toFixed(d);
  const row = ['transformers.js', name, dtype, threads, split ? 'split' : 'nosplit', frames, promptLen, newTokens, reps,
    f(median(pre)), 'NaN', 'NaN', 'NaN', f(median(ttft)), f(median(ttft) - median(pre)), f(median(tps), 3), 'NaN',
    f(peakRssMib, 0)].join(',');
  const header = 'contender,model,dtype,threads,split,frames,prompt_tokens,new_tokens,reps,preprocess_ms,vision_ms,'
    + 'vision_ms_per_frame,prefill_ms,ttft_ms,ttft_minus_preprocess_ms,decode_tok_s,heap_bytes_per_step,peak_rss_mib';
  fs.appendFileSync(csv, (fs.existsSync(csv) ? '' : header + '\n') + row + '\n');
}
