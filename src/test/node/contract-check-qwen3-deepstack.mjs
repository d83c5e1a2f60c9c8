// Contract check of vlm4j-tiny-qwen3-vl-deepstack (docs/model-format.md, "Qwen3-VL with DeepStack"): runs its
// three graphs directly with onnxruntime-node (the runtime transformers.js ships; transformers.js itself cannot
// feed deepstack_embeds) and compares with the PyTorch goldens (DeepStack on).
//
//   bash src/test/node/peer-check.sh --qwen3-deepstack [--models DIR] [--dtypes fp32,fp16,q8]
//
// Per case: the unmodified transformers.js Qwen2VLImageProcessor and tokenizer give pixel_values, image_grid_thw
// and input_ids (one processor call per image, as peer-check-qwen.mjs); vision_encoder -> image_features and
// deepstack_features [L, tokens, H]; embed_tokens -> inputs_embeds with image_features written at the
// <|image_pad|> positions; deepstack_embeds [L, 1, S, H] = deepstack_features at the same positions, zeros
// elsewhere; decoder prefill at the goldens' position_ids, then greedy steps at max + 1 + k with zeros
// [L, 1, 1, H]. Required: equal prompt ids, and for cases without resize (sharp vs Pillow) equal greedy ids and
// first-step top-5 within 1e-4 / 2e-2 / 1e-3 (fp32 / fp16 / q8, against the variant's own goldens).
// A sanity run per dtype with deepstack_embeds all zeros must reproduce the case's deepstack_off first step.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { env, AutoProcessor, RawImage, cat } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const name = 'vlm4j-tiny-qwen3-vl-deepstack';
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
const L = config.vision_config.deepstack_visual_indexes.length;
const H = text.hidden_size;
const imageId = config.image_token_id;
const processor = await AutoProcessor.from_pretrained(name);

// float16 <-> float32 (IEEE half bits in a Uint16Array)
const f16 = (b) => {
  const e = (b >> 10) & 31, f = b & 1023, s = b & 32768 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  return e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
};
const num = (t, i) => (t.type === 'float16' ? f16(t.data[i]) : Number(t.data[i]));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const firstDiff = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };

async function inputsFor(c) {
  const prompt = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  const images = await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  const each = await Promise.all(images.map((im) => processor.image_processor(im)));
  const merge = processor.image_processor.config.merge_size;
  let k = 0;
  const expanded = prompt.split('<|image_pad|>').reduce((acc, piece) => {
    const n = Number(each[k++].image_grid_thw.tolist()[0].reduce((a, b) => a * b, 1n)) / (merge * merge);
    return acc + '<|image_pad|>'.repeat(n) + piece;
  });
  const ids = Array.from(processor.tokenizer.encode(expanded, { add_special_tokens: false }));
  if (!each.length) return { ids };
  return { ids, pixel_values: cat(each.map((e) => e.pixel_values), 0), image_grid_thw: cat(each.map((e) => e.image_grid_thw), 0) };
}

const i64 = (arr, dims) => new ort.Tensor('int64', BigInt64Array.from(arr, BigInt), dims);

async function run(sess, c, inp, zeroDeepstack) {
  const { vision, embed, decoder, kvType } = sess;
  const S = inp.ids.length;
  const emb = (await embed.run({ input_ids: i64(inp.ids, [1, S]) })).inputs_embeds;
  const x = Float32Array.from(emb.data);
  const deep = new Float32Array(L * S * H);
  if (inp.pixel_values) {
    const pv = new ort.Tensor('float32', Float32Array.from(inp.pixel_values.data), inp.pixel_values.dims);
    const grid = new ort.Tensor('int64', BigInt64Array.from(inp.image_grid_thw.data), inp.image_grid_thw.dims);
    const out = await vision.run({ pixel_values: pv, image_grid_thw: grid });
    const feats = out.image_features, ds = out.deepstack_features;
    const n = feats.dims[0];
    if (ds.dims[0] !== L || ds.dims[1] !== n || ds.dims[2] !== H) throw new Error(`deepstack_features dims ${ds.dims}`);
    let r = 0;
    for (let s = 0; s < S; s++) {
      if (inp.ids[s] !== imageId) continue;
      for (let h = 0; h < H; h++) x[s * H + h] = num(feats, r * H + h);
      if (!zeroDeepstack) {
        for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) deep[(l * S + s) * H + h] = num(ds, (l * n + r) * H + h);
      }
      r++;
    }
    if (r !== n) throw new Error(`${r} image tokens but ${n} feature rows`);
  }
  const kvHeads = text.num_key_value_heads, hd = text.head_dim;
  const feeds = {};
  for (let i = 0; i < text.num_hidden_layers; i++) for (const kv of ['key', 'value']) {
    feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor(kvType, kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, kvHeads, 0, hd]);
  }
  const step = async (embeds, s, positions, deepstack, total) => {
    const out = await decoder.run({
      ...feeds,
      inputs_embeds: new ort.Tensor('float32', embeds, [1, s, H]),
      attention_mask: i64(new Array(total).fill(1), [1, total]),
      position_ids: i64(positions, [3, 1, s]),
      deepstack_embeds: new ort.Tensor('float32', deepstack, [L, 1, s, H]),
    });
    for (let i = 0; i < text.num_hidden_layers; i++) for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
    }
    const lg = out.logits, V = lg.dims[2];
    return Array.from({ length: V }, (_, v) => num(lg, (s - 1) * V + v));
  };
  let last = await step(x, S, c.position_ids.flat(), deep, S);
  const first = last;
  const generated = [];
  const next = Math.max(...c.position_ids.flat()) + 1;
  const eos = goldens.eos_token_ids;
  for (let k = 0; k < c.max_new_tokens; k++) {
    let best = 0;
    for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
    generated.push(best);
    if (eos.includes(best) || k === c.max_new_tokens - 1) break;
    const e = (await embed.run({ input_ids: i64([best], [1, 1]) })).inputs_embeds;
    last = await step(Float32Array.from(e.data), 1, [next + k, next + k, next + k], new Float32Array(L * H), S + k + 1);
  }
  return { first, generated };
}

let failures = 0;
for (const dtype of dtypes) {
  const opts = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};   // as peer-check-qwen.mjs
  const open = (base) => ort.InferenceSession.create(path.join(dir, 'onnx', base + suffix[dtype] + '.onnx'), opts);
  const sess = { vision: await open('vision_encoder'), embed: await open('embed_tokens'),
                 decoder: await open('decoder_model_merged'), kvType: dtype === 'fp16' ? 'float16' : 'float32' };
  let exact = 0;
  for (const c of goldens.cases) {
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
      const e0 = Math.max(...c.deepstack_off.first_step_top5.map(([i, v]) => Math.abs(off.first[i] - v)));
      okSanity = e0 <= tolerance.fp32;
      sanity = `, zero deepstack_embeds = DeepStack-off goldens (${e0.toExponential(2)})`;
    }
    const ok = okPrompt && okSanity && (pixelsSame ? okGen && err <= tolerance[dtype] : true);
    if (!ok) failures++;
    if (okPrompt && okGen) exact++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}/${dtype} ${c.name}: prompt ids ${okPrompt ? 'equal' : 'differ'} (${inp.ids.length}), `
      + (okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${firstDiff(generated, want.generated_ids)}`)
      + `, first-step top-5 max |diff| ${err.toExponential(2)}${sanity}` + (pixelsSame ? '' : ' [resized: sharp vs Pillow]'));
  }
  console.log(`${name}/${dtype}: ${exact}/${goldens.cases.length} cases with identical prompt and greedy ids`);
}
process.exit(failures === 0 ? 0 : 1);
