// Contract check of vlm4j-tiny-gemma3-bidi (the vlm4j-layout extension: its decoder declares token_type_ids, so
// each image attends bidirectionally within itself during prefill, as HF PyTorch Gemma 3 does). transformers.js
// 4.3.1 cannot run it (decoder_forward feeds only inputs_embeds, attention_mask, position_ids and the cache, and
// its session check rejects the missing input), so this script runs the three graphs directly with
// onnxruntime-node (the runtime transformers.js ships) and compares with the PyTorch goldens.
//
//   bash src/test/node/peer-check.sh --gemma3-bidi [--models DIR] [--dtypes fp32,fp16,q8]
//
// Per case without pan-and-scan: the unmodified transformers.js Gemma3Processor gives input_ids (add_special_tokens
// false) and pixel_values; vision_encoder -> image_features written at the <image_soft_token> rows of
// embed_tokens' output; token_type_ids = 1 at those rows; decoder prefill with position_ids 1..S, then greedy
// steps at S+k+1 with token_type_ids = the prompt's followed by zeros. Required: equal prompt ids, and for cases
// without resize equal greedy ids and first-step top-5 within 1e-4 / 2e-2 / 1e-3 (fp32 / fp16 / q8, against the
// variant's own goldens). Sanity (fp32, cases with images and no resize): token_type_ids all zero must give the
// case's "causal" goldens (= vlm4j-tiny-gemma3's), i.e. the extra input is what changes the result.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { env, AutoProcessor, RawImage } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const name = 'vlm4j-tiny-gemma3-bidi';
const dir = path.join(modelsDir, name);
const dtypes = opt('--dtypes', 'fp32,fp16,q8').split(',');
const tolerance = { fp32: 1e-4, fp16: 2e-2, q8: 1e-3 };
const suffix = { fp32: '', fp16: '_fp16', q8: '_quantized' };

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelsDir + path.sep;

const goldens = JSON.parse(fs.readFileSync(path.join(dir, 'goldens.json'), 'utf8'));
const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const text = config.text_config;
const H = text.hidden_size;
const imageId = config.image_token_index;
const processor = await AutoProcessor.from_pretrained(name);

const f16 = (b) => {
  const e = (b >> 10) & 31, f = b & 1023, s = b & 32768 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  return e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
};
const num = (t, i) => (t.type === 'float16' ? f16(t.data[i]) : Number(t.data[i]));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const firstDiff = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };
const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr, BigInt), dims);

async function inputsFor(c) {
  const prompt = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  const images = c.images.length === 0 ? null
    : await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  const inputs = await processor(prompt, images, { add_special_tokens: false });
  return { ids: Array.from(inputs.input_ids.data, Number), pixel_values: inputs.pixel_values };
}

async function run(sess, c, inp, zeroTypes) {
  const { vision, embed, decoder, kvType } = sess;
  const S = inp.ids.length;
  const x = Float32Array.from((await embed.run({ input_ids: i64(inp.ids, [1, S]) })).inputs_embeds.data);
  if (inp.pixel_values) {
    const pv = new ort.Tensor('float32', Float32Array.from(inp.pixel_values.data), inp.pixel_values.dims);
    const feats = (await vision.run({ pixel_values: pv })).image_features;
    const n = feats.dims[0] * feats.dims[1];
    let r = 0;
    for (let s = 0; s < S; s++) {
      if (inp.ids[s] !== imageId) continue;
      for (let h = 0; h < H; h++) x[s * H + h] = num(feats, r * H + h);
      r++;
    }
    if (r !== n) throw new Error(`${r} image tokens but ${n} feature rows`);
  }
  const types = inp.ids.map((t) => (!zeroTypes && t === imageId ? 1 : 0));
  const kvHeads = text.num_key_value_heads, hd = text.head_dim;
  const feeds = {};
  for (let i = 0; i < text.num_hidden_layers; i++) for (const kv of ['key', 'value']) {
    feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor(kvType, kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, kvHeads, 0, hd]);
  }
  const step = async (embeds, s, positions, total) => {
    const out = await decoder.run({
      ...feeds,
      inputs_embeds: new ort.Tensor('float32', embeds, [1, s, H]),
      attention_mask: i64(new Array(total).fill(1), [1, total]),
      position_ids: i64(positions, [1, s]),
      token_type_ids: i64(types.concat(new Array(total - types.length).fill(0)), [1, total]),
    });
    for (let i = 0; i < text.num_hidden_layers; i++) for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
    }
    const lg = out.logits, V = lg.dims[2];
    return Array.from({ length: V }, (_, v) => num(lg, (s - 1) * V + v));
  };
  let last = await step(x, S, Array.from({ length: S }, (_, i) => i + 1), S);
  const first = last;
  const generated = [];
  for (let k = 0; k < c.max_new_tokens; k++) {
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    generated.push(best);
    if (goldens.eos_token_ids.includes(best) || k === c.max_new_tokens - 1) break;
    const e = (await embed.run({ input_ids: i64([best], [1, 1]) })).inputs_embeds;
    last = await step(Float32Array.from(e.data), 1, [S + k + 1], S + k + 1);
  }
  return { first, generated };
}

let failures = 0;
const checked = goldens.cases.filter((c) => !c.pan_and_scan);
console.log(`${name}: ${checked.length} cases checked, ${goldens.cases.length - checked.length} pan-and-scan cases skipped`);
for (const dtype of dtypes) {
  const opts = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};   // as peer-check-qwen.mjs
  const open = (base) => ort.InferenceSession.create(path.join(dir, 'onnx', base + suffix[dtype] + '.onnx'), opts);
  const sess = { vision: await open('vision_encoder'), embed: await open('embed_tokens'),
                 decoder: await open('decoder_model_merged'), kvType: dtype === 'fp16' ? 'float16' : 'float32' };
  let exact = 0, passed = 0;
  for (const c of checked) {
    const want = dtype === 'fp32' ? c : c.variants[dtype];
    const inp = await inputsFor(c);
    const okPrompt = same(inp.ids, c.prompt_ids);
    const { first, generated } = await run(sess, c, inp, false);
    const err = Math.max(...want.first_step_top5.map(([i, v]) => Math.abs(first[i] - v)));
    const okGen = same(generated, want.generated_ids);
    const pixelsSame = !c.needs_resize.some((b) => b);
    let sanity = '';
    let okSanity = true;
    if (dtype === 'fp32' && c.images.length && pixelsSame) {
      const off = await run(sess, c, inp, true);
      const e0 = Math.max(...c.causal.first_step_top5.map(([i, v]) => Math.abs(off.first[i] - v)));
      okSanity = e0 <= tolerance.fp32 && same(off.generated, c.causal.generated_ids);
      sanity = `, zero token_type_ids = causal goldens (${okSanity ? 'yes' : 'NO'}, ${e0.toExponential(2)})`;
    }
    const ok = okPrompt && okSanity && (pixelsSame ? okGen && err <= tolerance[dtype] : true);
    if (!ok) failures++; else passed++;
    if (okPrompt && okGen) exact++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}/${dtype} ${c.name}: prompt ids ${okPrompt ? 'equal' : 'differ'} (${inp.ids.length}), `
      + (okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${firstDiff(generated, want.generated_ids)}`)
      + `, first-step top-5 max |diff| ${err.toExponential(2)}${sanity}` + (pixelsSame ? '' : ' [resized: sharp vs Pillow]'));
  }
  console.log(`${name}/${dtype}: ${passed}/${checked.length} cases pass the required checks, `
    + `${exact}/${checked.length} with identical prompt and greedy ids`);
}
process.exit(failures === 0 ? 0 : 1);
