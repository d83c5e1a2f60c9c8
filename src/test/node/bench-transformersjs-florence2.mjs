// transformers.js side of the Florence-2 benchmark (BENCHMARKS.md, "Florence-2-base shape"): unmodified
// transformers.js 4.3.1 on a Florence-2 folder (Florence2ForConditionalGeneration), one task on one image
// that needs no resize, greedy, --new max_new_tokens, medians after warm-up; one CSV row in
// FlorenceComparison's columns (benchmarks/.../FlorenceComparison.java).
//
//   node bench-transformersjs-florence2.mjs --model DIR --image PNG [--task '<OD>'] [--new 32] [--reps 1]
//        [--warmup 1] [--threads 2] [--csv FILE] [--ids FILE] [--no-spin]
// --no-spin: session option session.intra_op.allow_spinning=0, as vlm4j runs (the contender is then
// named transformers.js-nospin); by default ORT's intra-op threads spin (transformers.js's default).
//
// Stages: load = from_pretrained of the processor and the model (four sessions); preprocess =
// RawImage.read + processor(image, task) (prompt construction, tokenization, CLIPImageProcessor: no
// resize at the processor size); vision = the vision_encoder session's run; prefill = the rest of the time
// from generate() to the first new token (embed_tokens, merge, encoder_model, the merged decoder's first
// step, forced BOS); TTFT = preprocess + generate() to the first new token. Session runs are timed by
// wrapping each InferenceSession's run() on this instance (transformers.js is not modified); tokens by a
// streamer whose put() is called first with the decoder start id, then per new token. Generation stops at
// max_new_tokens (the folder's eos bias keeps greedy decoding off </s>; ForcedEOS makes the last token
// </s>); the run fails unless exactly --new ids came. CPU: process.cpuUsage() (all threads), which with
// spinning includes the intra-op threads' spin-waiting.
import fs from 'node:fs';
import path from 'node:path';
import { env, AutoProcessor, Florence2ForConditionalGeneration, RawImage } from '@huggingface/transformers';
import { Clock, cpuMs, ids, median, sessionOptions, timeSessionRuns, useLocalFolder } from './bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelDir = path.resolve(opt('--model'));
const imagePath = path.resolve(opt('--image'));
const task = opt('--task', '<OD>');
const newTokens = Number(opt('--new', '32'));
const reps = Number(opt('--reps', '1'));
const warmup = Number(opt('--warmup', '1'));
const threads = Number(opt('--threads', '2'));
const csv = opt('--csv', null);
const idsFile = opt('--ids', null);
const noSpin = args.includes('--no-spin');
const contender = noSpin ? 'transformers.js-nospin' : 'transformers.js';

const name = useLocalFolder(env, path, modelDir);

const l0 = performance.now();
const processor = await AutoProcessor.from_pretrained(name);
const model = await Florence2ForConditionalGeneration.from_pretrained(name, {
  dtype: 'fp32',
  session_options: sessionOptions(threads, noSpin),
});
const loadMs = performance.now() - l0;

const runs = timeSessionRuns(model);   // [session name, start, end] of every session run
const m = { pre: [], vision: [], prefill: [], ttft: [], tps: [], total: [], ttftCpu: [], stepCpu: [] };
let promptIds = [];
let generated = null;
let imageTokens = 0;
let size = '';
for (let i = -warmup; i < reps; i++) {
  const t0 = performance.now();
  const c0 = cpuMs();
  const image = await RawImage.read(imagePath);
  const inputs = await processor(image, task);
  const t1 = performance.now();
  promptIds = ids(inputs.input_ids);
  size = `${image.width}x${image.height}`;
  const clock = new Clock();
  runs.length = 0;
  const out = await model.generate({ ...inputs, max_new_tokens: newTokens, do_sample: false, streamer: clock });
  const t2 = performance.now();
  const got = ids(out).slice(1);   // [decoder_start_token_id] + new ids
  if (got.length !== newTokens) throw new Error(`expected ${newTokens} new tokens, found ${got.length}`);
  if (generated && got.join() !== generated.join()) throw new Error('the greedy ids changed between runs');
  generated = got;
  const visionRuns = runs.filter(([n]) => n === 'vision_encoder');
  if (visionRuns.length !== 1) throw new Error(`expected one vision_encoder run, found ${visionRuns.length}`);
  imageTokens = inputs.pixel_values.dims[2] / 32 * (inputs.pixel_values.dims[3] / 32) + 1;
  if (i < 0) continue;
  // clock.t[0]: put(decoder start id) after the encoder; clock.t[1]: the first new token
  const vision = visionRuns[0][2] - visionRuns[0][1];
  m.pre.push(t1 - t0);
  m.vision.push(vision);
  m.prefill.push(clock.t[1] - t1 - vision);
  m.ttft.push(clock.t[1] - t0);
  m.tps.push((1000 * (clock.t.length - 2)) / (clock.t[clock.t.length - 1] - clock.t[1]));
  m.total.push(t2 - t0);
  m.ttftCpu.push(clock.cpu[1] - c0);
  m.stepCpu.push((clock.cpu[clock.cpu.length - 1] - clock.cpu[1]) / (clock.t.length - 2));
}
const peakRssMib = process.resourceUsage().maxRSS / 1024;
const med = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
const taskName = task.replace(/[<>]/g, '');
const f = (x, d = 2) => x.toFixed(d);
const header = 'contender,model,task,threads,image,image_tokens,prompt_tokens,new_tokens,reps,load_ms,preprocess_ms,'
  + 'vision_ms,prefill_ms,ttft_ms,decode_tok_s,total_ms,peak_rss_mib,ttft_cpu_ms,decode_cpu_ms_per_token';
const row = [contender, name, taskName, threads, size, imageTokens, promptIds.length, newTokens, reps, f(loadMs, 1),
  f(med.pre), f(med.vision), f(med.prefill), f(med.ttft), f(med.tps, 3), f(med.total), f(peakRssMib, 0),
  f(med.ttftCpu, 0), f(med.stepCpu)].join(',');
console.log(header + '\n' + row);
if (csv) fs.appendFileSync(csv, (fs.existsSync(csv) ? '' : header + '\n') + row + '\n');
if (idsFile) {
  fs.appendFileSync(idsFile, `${contender}-prompt ${size} ${threads}: ${promptIds.join(',')}\n`
    + `${contender} ${size} ${threads}: ${generated.join(',')}\n`);
}
await model.dispose();
