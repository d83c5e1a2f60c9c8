// Runs unmodified transformers.js on the kit's tiny LFM2-VL folder (vlm4j-tiny-lfm2-vl) for every golden case and
// compares prompt ids, pixel tensors, first-step logits (top-5 of the goldens) and greedy ids with the PyTorch
// goldens (src/test/python/refmodels/lfm2_kit.py).
//
//   node peer-check-lfm2.mjs [--models DIR] [--dtypes fp32,fp16,q8] [--json OUT]
//
// The decoder is LFM2's hybrid cache: transformers.js creates the empty past from the graph's input metadata
// (past_conv.i zeros [1, hidden, conv_L_cache], past_key_values.i.* [1, kv, 0, hd]) and maps present_conv.* ->
// past_conv.*, present.* -> past_key_values.* between steps; greedy ids equal to the goldens show that the graphs'
// cache contract is what transformers.js feeds.
//
// Pixels: transformers.js's Lfm2VlImageProcessor resizes and tiles the normalized float tensor with an ONNX Resize
// (linear, half_pixel); the kit does the same in numpy (imageproc.interpolate_bilinear). Images that need no resize
// (goldens' needs_resize all false) give identical pixels, and for them greedy ids and first-step top-5 (1e-4 fp32,
// 2e-2 fp16, 1e-3 q8) are required to match; for the others the first divergence and the pixel checksum
// difference are reported. Prompt ids (smart_resize / tiling integers, the prompt expansion, the tokenizer),
// spatial_shapes, the pixel tensor's shape and mask and its first 8 values (1e-6) must always be equal. Exit code 0 only if every required comparison holds.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, AutoProcessor, AutoModelForImageTextToText, RawImage } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const jsonOut = opt('--json', null);
const dtypes = opt('--dtypes', 'fp32,fp16,q8').split(',');
const tolerance = { fp32: 1e-4, fp16: 2e-2, q8: 1e-3 };
const name = 'vlm4j-tiny-lfm2-vl';

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

async function inputsFor(processor, c, dir) {
  const text = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  if (c.images.length === 0) return processor.tokenizer(text);
  const images = await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  return processor(images, text);
}

const dir = path.join(modelsDir, name);
const goldens = JSON.parse(fs.readFileSync(path.join(dir, 'goldens.json'), 'utf8'));
const processor = await AutoProcessor.from_pretrained(name);
const results = {};
let failures = 0;
for (const t of goldens.tokenizer_cases) {
  const got = Array.from(processor.tokenizer.encode(t.text, { add_special_tokens: false }));
  const ok = same(got, t.ids);
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} tokenizer ${JSON.stringify(t.text)}: ${got.length} ids`
    + (ok ? ' equal' : `\n     transformers.js ${JSON.stringify(got)}\n     kit bpe.py      ${JSON.stringify(t.ids)}`));
}
for (const dtype of dtypes) {
  // q8: as peer-check-qwen.mjs, 'basic' keeps DequantizeLinear -> MatMul arithmetic, which the q8 goldens simulate.
  const session_options = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};
  const model = await AutoModelForImageTextToText.from_pretrained(name, { dtype, session_options });
  const key = `${name}/${dtype}`;
  results[key] = {};
  let exact = 0;
  for (const c of goldens.cases) {
    const want = dtype === 'fp32' ? c : c.variants[dtype];
    const inputs = await inputsFor(processor, c, dir);
    const prompt = ids(inputs.input_ids);
    let pix = '', okShapes = true;
    if (inputs.pixel_values) {
      const d = inputs.pixel_values.data;
      let sum = 0, sq = 0;
      for (let i = 0; i < d.length; i++) { sum += d[i]; sq += d[i] * d[i]; }
      // sums do not see the patch order; the first 8 values (tile 0, patch 0: (dy, dx, c)) do
      const headErr = Math.max(...c.pixel_values.head.map((x, i) => Math.abs(d[i] - x)));
      okShapes = headErr <= 1e-6 && same(ids(inputs.spatial_shapes), c.spatial_shapes.flat())
        && same(inputs.pixel_values.dims, c.pixel_values.shape)
        && ids(inputs.pixel_attention_mask).reduce((a, b) => a + b, 0) === c.pixel_attention_mask_sum;
      pix = `, pixels |dsum| ${Math.abs(sum - c.pixel_values.sum).toExponential(1)} |dsumsq| ${Math.abs(sq - c.pixel_values.sum_sq).toExponential(1)}`;
    }
    const logits = (await model({ ...inputs })).logits;
    const [, s, v] = logits.dims;
    const logitErr = Math.max(...want.first_step_top5.map(([i, x]) => Math.abs(value(logits, (s - 1) * v + i) - x)));
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    const generated = ids(out).slice(prompt.length);
    const pixelsSame = !c.needs_resize.some((x) => x);
    const okPrompt = same(prompt, c.prompt_ids);
    const d = firstDiff(generated, want.generated_ids);
    const okGen = d === Math.max(generated.length, want.generated_ids.length);
    const okLogits = logitErr <= tolerance[dtype];
    const required = okPrompt && okShapes && (pixelsSame ? okGen && okLogits : true);
    results[key][c.name] = { prompt_ids: prompt, generated_ids: generated, first_step_top5_max_abs_error: logitErr };
    if (!required) failures++;
    if (okPrompt && okGen) exact++;
    console.log(`${required ? 'ok  ' : 'FAIL'} ${key} ${c.name}: prompt ids ${okPrompt ? 'equal' : 'differ'} (${prompt.length}), `
      + `spatial shapes / pixel head ${okShapes ? 'equal' : 'differ'}, ${okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${d}`}, `
      + `first-step top-5 max |diff| ${logitErr.toExponential(2)}${pix}` + (pixelsSame ? '' : ' [resized]'));
    if (!okPrompt) console.log(`     transformers.js ${JSON.stringify(prompt)}\n     PyTorch golden  ${JSON.stringify(c.prompt_ids)}`);
    if (!okGen) console.log(`     transformers.js ${JSON.stringify(generated)}\n     PyTorch golden  ${JSON.stringify(want.generated_ids)}`);
  }
  console.log(`${key}: ${exact}/${goldens.cases.length} cases with identical prompt and greedy ids`);
  await model.dispose();
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results));
process.exit(failures === 0 ? 0 : 1);
