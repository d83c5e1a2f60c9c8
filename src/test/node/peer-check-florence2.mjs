// Runs unmodified transformers.js on the kit's tiny Florence-2 folder (vlm4j-tiny-florence2) for every golden case
// and compares with the PyTorch goldens (src/test/python/refmodels/florence2_kit.py): the constructed task prompt,
// prompt ids, the pixel tensor (shape, sums, first 8 values), image features, raw decoder logits of steps 1 and 2
// (the goldens' top-5 ids), greedy ids (generate, do_sample false), the decoded text and
// processor.post_process_generation(text, task, [width, height]).
//
//   node peer-check-florence2.mjs [--models DIR] [--dtypes fp32,fp16,q8] [--json OUT] [--write-post-processed]
//
// Florence2ForConditionalGeneration is an encoder-decoder ImageTextToText model: transformers.js concatenates
// vision_encoder's image_features BEFORE embed_tokens(prompt ids), runs encoder_model once, then the merged decoder:
// step 1 with use_cache_branch false and empty past_key_values.* ([1, heads, 0, head_dim] from the input metadata),
// later steps with use_cache_branch true, the growing present.i.decoder.* and the STEP-1 present.i.encoder.* (it
// ignores the encoder presents of later steps). Greedy ids equal to the goldens show the graphs' contract is what
// transformers.js feeds; the forced BOS / EOS logits processors come from generation_config.json.
//
// Required (exit code 0 only if all hold): tokenizer cases, prompt text and ids, pixel shape/head (1e-6), for images
// at the processor size (needs_resize false; sharp and Pillow resize differently) image-feature sums (1e-3 relative,
// fp32), step-1/2 logits (1e-4 fp32, 2e-2 fp16, 1e-3 q8), greedy ids and decoded text; and tjs's post-processing of
// the golden text equal to the kit's port (post_processed); and, per dtype, the merged decoder's cache contract run
// directly with onnxruntime-node (present shapes of step 1 and of a cached step 2). --write-post-processed stores tjs's result in
// goldens.json as tjs_post_processed (for Java's post-processing tests).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { env, AutoProcessor, Florence2ForConditionalGeneration, RawImage, Tensor } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const jsonOut = opt('--json', null);
const writePost = args.includes('--write-post-processed');
const dtypes = opt('--dtypes', 'fp32,fp16,q8').split(',');
const tolerance = { fp32: 1e-4, fp16: 2e-2, q8: 1e-3 };
const name = 'vlm4j-tiny-florence2';

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelsDir + path.sep;

const ids = (t) => Array.from(t.data, Number);
const half = (b) => {
  const e = (b >> 10) & 31, f = b & 1023, s = b & 32768 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  return e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
};
const value = (t, i) => (t.type === 'float16' && t.data instanceof Uint16Array ? half(t.data[i]) : Number(t.data[i]));
const firstDiff = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };
const same = (a, b) => firstDiff(a, b) === Math.max(a.length, b.length);
const sums = (t) => { let s = 0, q = 0; for (let i = 0; i < t.data.length; i++) { const x = value(t, i); s += x; q += x * x; } return [s, q]; };
// JSON round trip: the goldens' numbers are Python floats printed with repr, which JSON.parse reads back exactly.
const canonical = (x) => JSON.stringify(x);

const dir = path.join(modelsDir, name);
const goldensPath = path.join(dir, 'goldens.json');
const goldens = JSON.parse(fs.readFileSync(goldensPath, 'utf8'));
const processor = await AutoProcessor.from_pretrained(name);
const results = { post_processed: {} };
let failures = 0;
const report = (ok, msg) => { if (!ok) failures++; console.log(`${ok ? 'ok  ' : 'FAIL'} ${msg}`); };

for (const t of goldens.tokenizer_cases) {
  const got = Array.from(processor.tokenizer.encode(t.text));
  const dec = processor.tokenizer.decode(got, { skip_special_tokens: false });
  report(same(got, t.ids) && dec === t.decoded, `${name} tokenizer ${JSON.stringify(t.text)}: ${got.length} ids `
    + `${same(got, t.ids) ? 'equal' : `differ\n     transformers.js ${JSON.stringify(got)}\n     kit             ${JSON.stringify(t.ids)}`}`
    + `, decode ${dec === t.decoded ? 'equal' : `differs: ${JSON.stringify(dec)} vs ${JSON.stringify(t.decoded)}`}`);
}

// Post-processing of the golden texts (independent of the dtype).
for (const c of goldens.cases) {
  let got;
  try {
    got = processor.post_process_generation(c.generated_text, c.task, c.image_size);
  } catch (e) {
    got = { error: e.message };
  }
  results.post_processed[c.name] = got;
  if (writePost) c.tjs_post_processed = got;
  const ok = canonical(got) === canonical(c.post_processed);
  report(ok, `${name} post_process_generation ${c.name} (${c.task.slice(0, 40)}): ${ok ? 'equal to the kit port' : 'DIFFERS'}`);
  if (!ok) console.log(`     transformers.js ${canonical(got).slice(0, 400)}\n     kit port        ${canonical(c.post_processed).slice(0, 400)}`);
}
if (writePost) {
  fs.writeFileSync(goldensPath, JSON.stringify(goldens, null, 2) + '\n');
  console.log(`wrote tjs_post_processed into ${goldensPath}`);
}

// The merged decoder's cache contract, run directly with onnxruntime-node (the runtime transformers.js ships):
// step 1 (use_cache_branch false, zero-length pasts) must return present.i.encoder.* of length enc_seq; step 2
// (use_cache_branch true, step-1 presents fed back) present.i.decoder.* of length 2 and EMPTY encoder presents.
async function cacheContract(file) {
  const io = goldens.decoder_io;
  const session = await ort.InferenceSession.create(path.join(dir, 'onnx', file));
  const kvType = file.includes('_fp16') ? 'float16' : 'float32';
  const d = io.heads * io.head_dim, enc = 5;
  const f32 = (dims) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)), dims);
  const empty = () => new ort.Tensor(kvType, kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, io.heads, 0, io.head_dim]);
  const feeds = { encoder_attention_mask: new ort.Tensor('int64', new BigInt64Array(enc).fill(1n), [1, enc]),
    encoder_hidden_states: f32([1, enc, d]), inputs_embeds: f32([1, 1, d]),
    use_cache_branch: new ort.Tensor('bool', [false], [1]) };
  for (const n of session.inputNames) if (n.startsWith('past_key_values.')) feeds[n] = empty();
  const r1 = await session.run(feeds);
  const step2 = { ...feeds, use_cache_branch: new ort.Tensor('bool', [true], [1]) };
  for (const n of session.outputNames) if (n.startsWith('present.')) step2[n.replace('present', 'past_key_values')] = r1[n];
  const r2 = await session.run(step2);
  const dims = (r, n) => JSON.stringify(r[n].dims);
  let ok = session.inputNames.at(-1) === 'use_cache_branch' && JSON.stringify(r1.logits.dims) === JSON.stringify([1, 1, goldens.special_ids.vocab_size]);
  for (let i = 0; i < io.layers; i++) {
    ok &&= dims(r1, `present.${i}.decoder.key`) === JSON.stringify([1, io.heads, 1, io.head_dim])
      && dims(r1, `present.${i}.encoder.key`) === JSON.stringify([1, io.heads, enc, io.head_dim])
      && dims(r2, `present.${i}.decoder.key`) === JSON.stringify([1, io.heads, 2, io.head_dim])
      && dims(r2, `present.${i}.encoder.value`) === JSON.stringify([0, io.heads, 0, io.head_dim])
      && r1[`present.${i}.encoder.key`].type === kvType;
  }
  report(ok, `${name} ${file}: step 1 present.0.decoder.key ${dims(r1, 'present.0.decoder.key')} encoder.key ${dims(r1, 'present.0.encoder.key')}; `
    + `step 2 decoder.key ${dims(r2, 'present.0.decoder.key')} encoder.key ${dims(r2, 'present.0.encoder.key')} (${kvType} cache)`);
  await session.release?.();
}
for (const dtype of dtypes) {
  await cacheContract({ fp32: 'decoder_model_merged.onnx', fp16: 'decoder_model_merged_fp16.onnx', q8: 'decoder_model_merged_quantized.onnx' }[dtype]);
}

const top5Err = (logits, row, want) => {
  const v = logits.dims.at(-1);
  return Math.max(...want.map(([i, x]) => Math.abs(value(logits, row * v + i) - x)));
};

for (const dtype of dtypes) {
  // q8: as peer-check-lfm2.mjs, 'basic' keeps DequantizeLinear -> MatMul arithmetic, which the q8 goldens simulate.
  const session_options = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};
  const model = await Florence2ForConditionalGeneration.from_pretrained(name, { dtype, session_options });
  const key = `${name}/${dtype}`;
  results[key] = {};
  let exact = 0;
  for (const c of goldens.cases) {
    const want = dtype === 'fp32' ? c : c.variants[dtype];
    const image = await RawImage.read(path.join(dir, c.image));
    const prompt = processor.construct_prompts(c.text)[0];
    const inputs = await processor(image, c.text);
    const promptIds = ids(inputs.input_ids);
    const pv = inputs.pixel_values;
    const [ps, pq] = sums(pv);
    const headErr = Math.max(...c.pixel_values.head.map((x, i) => Math.abs(pv.data[i] - x)));
    const okPrompt = prompt === c.prompt && same(promptIds, c.prompt_ids);
    const exactPixels = !c.needs_resize;
    // resized images: sharp's cubic and Pillow's BICUBIC differ, so only the shape is required
    const okPixels = same(pv.dims, c.pixel_values.shape) && (!exactPixels || headErr <= 1e-6);
    let okFeatures = true, featInfo = '';
    if (dtype === 'fp32') {
      const feats = await model.encode_image({ pixel_values: pv });
      const [fs_, fq] = sums(feats);
      okFeatures = same(feats.dims, c.image_features.shape)
        && Math.abs(fs_ - c.image_features.sum) <= 1e-3 * Math.max(1, Math.abs(c.image_features.sum))
        && Math.abs(fq - c.image_features.sum_sq) <= 1e-3 * Math.max(1, c.image_features.sum_sq);
      featInfo = `, image_features ${JSON.stringify(feats.dims)} |dsum| ${Math.abs(fs_ - c.image_features.sum).toExponential(1)}`;
    }
    // Raw logits (before the forced BOS/EOS processors) of decoder steps 1 and 2, one forward without cache.
    const start = BigInt(c.decoder_start_token_id);
    const dec = new Tensor('int64', BigInt64Array.from([start, BigInt(c.generated_ids[0])]), [1, 2]);
    const logits = (await model({ ...inputs, decoder_input_ids: dec })).logits;
    const err1 = top5Err(logits, 0, want.first_step_top5);
    const err2 = top5Err(logits, 1, want.second_step_top5);
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    const seq = ids(out);
    const generated = seq.slice(1);
    const text = processor.batch_decode(out, { skip_special_tokens: false })[0];
    const d = firstDiff(generated, want.generated_ids);
    const okGen = seq[0] === c.decoder_start_token_id && d === Math.max(generated.length, want.generated_ids.length);
    const okText = text === want.generated_text;
    const okLogits = Math.max(err1, err2) <= tolerance[dtype];
    const required = okPrompt && okPixels && (exactPixels ? okFeatures && okLogits && okGen && okText : true);
    results[key][c.name] = { prompt, prompt_ids: promptIds, generated_ids: generated, text,
      step1_top5_max_abs_error: err1, step2_top5_max_abs_error: err2 };
    if (!required) failures++;
    if (okPrompt && okGen) exact++;
    console.log(`${required ? 'ok  ' : 'FAIL'} ${key} ${c.name}: prompt ${okPrompt ? 'equal' : 'differs'} (${promptIds.length} ids), `
      + `pixels ${okPixels ? (exactPixels ? 'equal' : 'shape equal') : 'differ'} (|dsum| ${Math.abs(ps - c.pixel_values.sum).toExponential(1)}, |dsumsq| ${Math.abs(pq - c.pixel_values.sum_sq).toExponential(1)})${featInfo}, `
      + `${okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${d}`}, text ${okText ? 'equal' : 'differs'}, `
      + `step-1/2 top-5 max |diff| ${err1.toExponential(2)} / ${err2.toExponential(2)}` + (exactPixels ? '' : ' [resized]'));
    if (!okPrompt) console.log(`     transformers.js ${JSON.stringify(prompt)} ${JSON.stringify(promptIds)}\n     PyTorch golden  ${JSON.stringify(c.prompt)} ${JSON.stringify(c.prompt_ids)}`);
    if (!okGen) console.log(`     transformers.js ${JSON.stringify(seq)}\n     PyTorch golden  ${JSON.stringify([c.decoder_start_token_id, ...want.generated_ids])}`);
    if (okGen && !okText) console.log(`     transformers.js ${JSON.stringify(text)}\n     PyTorch golden  ${JSON.stringify(want.generated_text)}`);
  }
  console.log(`${key}: ${exact}/${goldens.cases.length} cases with identical prompt and greedy ids`);
  await model.dispose();
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results));
process.exit(failures === 0 ? 0 : 1);
