// Runs unmodified transformers.js on the kit's tiny Qwen-VL folders (vlm4j-tiny-qwen2-vl, vlm4j-tiny-qwen2_5-vl,
// vlm4j-tiny-qwen3-vl) for every golden case and compares prompt ids, first-step logits (top-5 of the goldens)
// and greedy ids with the PyTorch goldens (src/test/python/refmodels/qwen_kit.py, qwen3_kit.py).
//
// Qwen3-VL: transformers.js 4.3.1 runs qwen3_vl with the Qwen2.5-VL graph I/O and feeds no DeepStack tensors,
// so vlm4j-tiny-qwen3-vl is the layout without DeepStack (its goldens: the reference with DeepStack off).
// vlm4j-tiny-qwen3-vl-deepstack (vlm4j's DeepStack contract: deepstack_features / deepstack_embeds) is
// excluded here: transformers.js cannot feed it.
//
//   node peer-check-qwen.mjs [--models DIR] [--only NAME] [--dtypes fp32,fp16,q8] [--json OUT]
//
// fp16 / q8 load the *_fp16 / *_quantized graphs and compare with each case's variants.<dtype> goldens
// (PyTorch with the same weight, KV-cache and logits rounding); first-step top-5 tolerance 1e-4 (fp32),
// 2e-2 (fp16: float16 logits) and 1e-3 (q8). q8 sessions use graphOptimizationLevel 'basic' (see below).
//
// Pixels: the kit resizes with Pillow (bicubic), transformers.js with sharp, so greedy ids are required
// to be equal only for cases whose images need no resize (goldens' needs_resize all false); for the
// others the first divergence is reported. Prompt ids depend only on smart_resize's integer sizes and
// must always be equal. Exit code 0 only if every required comparison holds.
//
// get_rope_index: the 3-D position ids (and, for prompts with images, the rope delta) must equal the
// goldens' position_ids / rope_delta for every case.
//
// Text-only prompts: transformers.js 4.3.1's _get_text_only_rope_index computes the rope delta as
// max + 1 + S instead of max + 1 - S, so text-only decode steps run 2S positions too far. The goldens
// carry the greedy ids of the PyTorch reference with that offset; a text-only case passes if
// transformers.js reproduces those exactly (and is reported as such).
//
// Several images in one call: transformers.js 4.3.1's Qwen2VLImageProcessor stacks the images of one
// call into one tensor (so they must have one size) and treats a stack of temporal_patch_size images as
// the frames of ONE grid. For cases with several images we therefore run the unmodified image processor
// once per image, concatenate pixel_values and image_grid_thw, and expand each <|image_pad|> exactly as
// Qwen2VLProcessor does (t*h*w / merge_size^2 copies); tokenizer and model are unmodified.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, AutoProcessor, AutoModelForImageTextToText, RawImage, cat } from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const only = opt('--only', null);
const jsonOut = opt('--json', null);
const dtypes = opt('--dtypes', 'fp32,fp16,q8').split(',');
const tolerance = { fp32: 1e-4, fp16: 2e-2, q8: 1e-3 };

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelsDir + path.sep;

const ids = (t) => Array.from(t.data, Number);
// float16 logits arrive as raw IEEE half bits (Uint16Array) when the runtime has no Float16Array.
const half = (b) => {
  const e = (b >> 10) & 31, f = b & 1023, s = b & 32768 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  return e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
};
const value = (t, i) => (t.type === 'float16' && t.data instanceof Uint16Array ? half(t.data[i]) : Number(t.data[i]));
const firstDiff = (a, b) => { let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return i; };

async function inputsFor(processor, c, dir) {
  const text = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  const images = await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  if (images.length <= 1) return processor(text, images.length ? images : null);
  const each = await Promise.all(images.map((im) => processor.image_processor(im)));
  const merge = processor.image_processor.config.merge_size;
  let k = 0;
  const expanded = text.split('<|image_pad|>').reduce((acc, piece) => {
    const n = Number(each[k++].image_grid_thw.tolist()[0].reduce((a, b) => a * b, 1n)) / (merge * merge);
    return acc + '<|image_pad|>'.repeat(n) + piece;
  });
  return {
    ...processor.tokenizer(expanded),
    pixel_values: cat(each.map((e) => e.pixel_values), 0),
    image_grid_thw: cat(each.map((e) => e.image_grid_thw), 0),
  };
}

const folders = fs.readdirSync(modelsDir)
  .filter((n) => n.startsWith('vlm4j-tiny-qwen') && !n.endsWith('-deepstack') && (!only || n === only));
const results = {};
let failures = 0;
for (const name of folders) for (const dtype of dtypes) {
  const dir = path.join(modelsDir, name);
  const goldens = JSON.parse(fs.readFileSync(path.join(dir, 'goldens.json'), 'utf8'));
  const processor = await AutoProcessor.from_pretrained(name);
  if (dtype === dtypes[0]) {
    for (const t of goldens.tokenizer_cases) {
      const got = Array.from(processor.tokenizer.encode(t.text, { add_special_tokens: false }));
      const ok = firstDiff(got, t.ids) === Math.max(got.length, t.ids.length);
      if (!ok) failures++;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} tokenizer ${JSON.stringify(t.text)}: ${got.length} ids`
        + (ok ? ' equal' : `\n     transformers.js ${JSON.stringify(got)}\n     kit bpe.py      ${JSON.stringify(t.ids)}`));
    }
  }
  // q8: ORT's default 'all' optimizations rewrite DequantizeLinear -> MatMul in the decoder into a
  // different int8 kernel (first-step logits move by ~0.05 against the exact dequantized weights);
  // 'basic' keeps the graph's arithmetic, which is what the q8 goldens simulate.
  const session_options = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};
  const model = await AutoModelForImageTextToText.from_pretrained(name, { dtype, session_options });
  const key = `${name}/${dtype}`;
  results[key] = {};
  let exact = 0;
  for (const c of goldens.cases) {
    const want = dtype === 'fp32' ? c : c.variants[dtype];
    const inputs = await inputsFor(processor, c, dir);
    const prompt = ids(inputs.input_ids);
    const [rope, delta] = model.get_rope_index(inputs.input_ids, inputs.image_grid_thw ?? null, null, inputs.attention_mask);
    const okRope = firstDiff(ids(rope), c.position_ids.flat()) === c.position_ids.flat().length
      && (c.images.length === 0 || Number(delta.data[0]) === c.rope_delta);
    const logits = (await model({ ...inputs })).logits;
    const [, s, v] = logits.dims;
    const logitErr = Math.max(...want.first_step_top5.map(([i, x]) => Math.abs(value(logits, (s - 1) * v + i) - x)));
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    const generated = ids(out).slice(prompt.length);
    const pixelsSame = !c.needs_resize.some((x) => x);
    const okPrompt = firstDiff(prompt, c.prompt_ids) === Math.max(prompt.length, c.prompt_ids.length);
    const d = firstDiff(generated, want.generated_ids);
    const okGen = d === Math.max(generated.length, want.generated_ids.length);
    const okLogits = logitErr <= tolerance[dtype];
    const bug = want.transformersjs_4_3_1_text_only_rope_delta_bug;
    const okBug = bug !== undefined && firstDiff(generated, bug.generated_ids) === Math.max(generated.length, bug.generated_ids.length);
    const required = okPrompt && okRope && (pixelsSame ? (okGen || okBug) && okLogits : true);
    results[key][c.name] = { prompt_ids: prompt, generated_ids: generated, first_step_top5_max_abs_error: logitErr };
    if (!required) failures++;
    if (okPrompt && okGen) exact++;
    let gen = okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${d}`;
    if (!okGen && okBug) gen += ', equal to the goldens\' simulation of the text-only rope-delta bug';
    console.log(`${required ? 'ok  ' : 'FAIL'} ${key} ${c.name}: prompt ids ${okPrompt ? 'equal' : 'differ'} `
      + `(${prompt.length}), position ids ${okRope ? 'equal' : 'differ'}, ${gen}, first-step top-5 max |diff| ${logitErr.toExponential(2)}`
      + (pixelsSame ? '' : ' [resized: sharp vs Pillow]'));
    if (!okPrompt) console.log(`     transformers.js ${JSON.stringify(prompt)}\n     PyTorch golden  ${JSON.stringify(c.prompt_ids)}`);
    if (!okGen && !okBug) console.log(`     transformers.js ${JSON.stringify(generated)}\n     PyTorch golden  ${JSON.stringify(want.generated_ids)}`);
  }
  console.log(`${key}: ${exact}/${goldens.cases.length} cases with identical prompt and greedy ids`);
  await model.dispose();
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results));
process.exit(failures === 0 && folders.length > 0 ? 0 : 1);
