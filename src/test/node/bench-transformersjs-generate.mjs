// transformers.js side of the generation benchmarks against vlm4j (BENCHMARKS.md, "Qwen2.5-VL-3B
// widths" with QwenComparison, "New families at realistic shapes" with FamilyComparison): unmodified
// transformers.js 4.3.1 on an onnx-community folder it loads with AutoModelForImageTextToText (Qwen2-VL,
// Qwen2.5-VL, LFM2-VL, Gemma 3, ...), one image, a short question, greedy, exactly --new new tokens
// (min_new_tokens = max_new_tokens), medians after warm-up.
//
//   node bench-transformersjs-generate.mjs --model DIR --image PNG [--new 32] [--reps 3] [--warmup 1]
//        [--threads 2] [--question TEXT] [--csv FILE] [--ids FILE] [--no-spin] [--load-column]
// --no-spin: session option session.intra_op.allow_spinning=0, as vlm4j and the raw loop run (the
// contender is then named transformers.js-nospin); by default ORT's intra-op threads spin.
//
// Stages: preprocess = RawImage.read + chat template + processor (resize where the family's processor
// does, patchify / tiles, tokenize); vision = the vision_encoder session's run; prefill = the rest of the
// time from generate() to the first new token (embed_tokens run, merge, get_rope_index, the decoder's
// prompt pass, first token chosen); TTFT = preprocess + generate() to the first new token. Session
// runs are timed by wrapping each InferenceSession's run() on this instance (transformers.js is not
// modified); tokens by a streamer whose put() is called with the prompt and then per token. The image
// size reported is the grid's (Qwen: image_grid_thw x patch) or else the file's; image tokens are the
// grid's or else the prompt's ids equal to config.json's image_token_id / image_token_index.
// CPU: the process's CPU time (process.cpuUsage(), all threads) from the start to the first new token,
// and per decode step from the first to the last; with ORT's default spinning it includes the intra-op
// threads' spin-waiting. --csv appends a row in QwenComparison's columns; --ids appends the prompt and
// generated ids. --load-column: the CSV row ends with load_ms (from_pretrained of the processor and the
// model; FamilyComparison's columns).
import fs from 'node:fs';
import path from 'node:path';
import { env, AutoProcessor, AutoModelForImageTextToText, RawImage } from '@huggingface/transformers';
import { Clock, cpuMs, ids, median, sessionOptions, timeSessionRuns, useLocalFolder } from './bench-common.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelDir = path.resolve(opt('--model'));
const imagePath = path.resolve(opt('--image'));
const newTokens = Number(opt('--new', '32'));
const reps = Number(opt('--reps', '3'));
const warmup = Number(opt('--warmup', '1'));
const threads = Number(opt('--threads', '2'));
const question = opt('--question', 'Describe this image.');
const csv = opt('--csv', null);
const idsFile = opt('--ids', null);
const noSpin = args.includes('--no-spin');
const loadColumn = args.includes('--load-column');
const contender = noSpin ? 'transformers.js-nospin' : 'transformers.js';

const name = useLocalFolder(env, path, modelDir);

const tLoad = performance.now();
const processor = await AutoProcessor.from_pretrained(name);
const model = await AutoModelForImageTextToText.from_pretrained(name, {
  dtype: 'fp32',
  session_options: sessionOptions(threads, noSpin),
});
const loadMs = performance.now() - tLoad;

const runs = timeSessionRuns(model);   // [session name, start, end] of every session run

// the processors' argument orders differ by family; Gemma 3's chat template already writes <bos>, so the
// tokenizer must not add it again (as HF apply_chat_template(tokenize=True) and peer-check-gemma3.mjs do)
const modelType = model.config.model_type;
const processInputs = (text, image) => modelType === 'lfm2_vl' ? processor([image], text)
  : modelType === 'gemma3' ? processor(text, [image], { add_special_tokens: false })
    : processor(text, [image]);


const m = { pre: [], vision: [], prefill: [], ttft: [], ttftPre: [], tps: [], ttftCpu: [], stepCpu: [] };
let promptIds = [];
let generated = [];
let grid = null;
let fileSize = null;
for (let i = -warmup; i < reps; i++) {
  const t0 = performance.now();
  const c0 = cpuMs();
  const image = await RawImage.read(imagePath);
  fileSize = `${image.width}x${image.height}`;
  const text = processor.apply_chat_template(
    [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }], { add_generation_prompt: true });
  const inputs = await processInputs(text, image);
  const t1 = performance.now();
  promptIds = ids(inputs.input_ids);
  grid = inputs.image_grid_thw ? inputs.image_grid_thw.tolist()[0].map(Number) : null;
  const clock = new Clock();
  runs.length = 0;
  const out = await model.generate({ ...inputs, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false,
    streamer: clock });
  generated = ids(out).slice(promptIds.length);
  if (i < 0) continue;
  // clock.t[0]: the prompt's put(); clock.t[1]: the first new token
  const vision = runs.filter(([n, s]) => n === 'vision_encoder' && s < clock.t[1]).reduce((a, [, s, e]) => a + e - s, 0);
  m.pre.push(t1 - t0);
  m.vision.push(vision);
  m.prefill.push(clock.t[1] - t1 - vision);
  m.ttft.push(clock.t[1] - t0);
  m.ttftPre.push(clock.t[1] - t1);
  m.tps.push((1000 * (clock.t.length - 2)) / (clock.t[clock.t.length - 1] - clock.t[1]));
  m.ttftCpu.push(clock.cpu[1] - c0);
  m.stepCpu.push((clock.cpu[clock.cpu.length - 1] - clock.cpu[1]) / (clock.t.length - 2));
}
const peakRssMib = process.resourceUsage().maxRSS / 1024;
const merge = processor.image_processor.config.merge_size;
const patch = processor.image_processor.config.patch_size;
const imageTokenId = model.config.image_token_id ?? model.config.image_token_index;
const imageTokens = grid ? (grid[0] * grid[1] * grid[2]) / (merge * merge)
  : promptIds.filter((x) => x === imageTokenId).length;
const size = grid ? `${grid[2] * patch}x${grid[1] * patch}` : fileSize;
const med = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
console.log(JSON.stringify({
  model: name, image: size, imageTokens, threads, promptTokens: promptIds.length, newTokens, reps, warmup,
  preprocessMs: med.pre, visionMs: med.vision, prefillMs: med.prefill, ttftMs: med.ttft,
  ttftMinusPreprocessMs: med.ttftPre, decodeTokensPerSecond: med.tps, ttftCpuMs: med.ttftCpu,
  decodeCpuMsPerToken: med.stepCpu, peakRssMib, loadMs,
}));
if (csv) {   // QwenComparison's (with --load-column FamilyComparison's) columns; heap bytes per step do not apply
  const f = (x, d = 2) => x.toFixed(d);
  const row = [contender, name, 'fp32', threads, 'nosplit', 1, promptIds.length, newTokens, reps, f(med.pre),
    f(med.vision), f(med.vision), f(med.prefill), f(med.ttft), f(med.ttftPre), f(med.tps, 3), 'NaN', f(peakRssMib, 0),
    size, imageTokens, f(med.ttftCpu, 0), f(med.stepCpu), ...(loadColumn ? [f(loadMs, 0)] : [])].join(',');
  const header = 'contender,model,dtype,threads,split,frames,prompt_tokens,new_tokens,reps,preprocess_ms,vision_ms,'
    + 'vision_ms_per_frame,prefill_ms,ttft_ms,ttft_minus_preprocess_ms,decode_tok_s,heap_bytes_per_step,peak_rss_mib,'
    + 'image,image_tokens,ttft_cpu_ms,decode_cpu_ms_per_token' + (loadColumn ? ',load_ms' : '');
  fs.appendFileSync(csv, (fs.existsSync(csv) ? '' : header + '\n') + row + '\n');
}
if (idsFile) {
  fs.appendFileSync(idsFile, `${contender}-prompt ${size} ${threads}: ${promptIds.join(',')}\n`
    + `${contender} ${size} ${threads}: ${generated.join(',')}\n`);
}
await model.dispose();
