// Runs unmodified transformers.js on the kit's tiny Gemma 3 folder (vlm4j-tiny-gemma3) for every golden case
// without pan-and-scan and compares prompt text, prompt ids, pixel tensors, first-step logits (top-5 of the
// goldens) and greedy ids with the PyTorch goldens (src/test/python/refmodels/gemma3_kit.py).
//
//   node peer-check-gemma3.mjs [--models DIR] [--dtypes fp32,fp16,q8] [--json OUT]
//
// Path: processor.apply_chat_template (chat_template.jinja) -> Gemma3Processor (each <start_of_image> ->
// "\n\n<start_of_image>" + <image_soft_token> x image_seq_length + "<end_of_image>\n\n"), tokenized with
// add_special_tokens false (the template emits <bos>), the generic ImageProcessor (sharp resize to 32x32, rescale,
// normalize) -> Gemma3ForConditionalGeneration (Llava merge, 1-indexed position_ids, empty past from the graph's
// input metadata) -> greedy generate.
//
// Required: tokenizer cases, rendered template text and prompt ids always; pixel tensor shape and first 8 values
// (1e-6) for images that need no resize; greedy ids and first-step top-5 (1e-4 fp32, 2e-2 fp16, 1e-3 q8) for cases
// whose images need no resize (goldens' needs_resize all false; text-only included). For resized images sharp and
// Pillow differ by a few grey levels: the first divergence and the pixel checksum difference are reported only.
// Cases with "pan_and_scan": true are skipped: transformers.js 4.3.1 has no pan-and-scan.
// Exit code 0 only if every required comparison holds.
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
const name = opt('--name', 'vlm4j-tiny-gemma3');

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
  const images = c.images.length === 0 ? null
    : await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  return { text, inputs: await processor(text, images, { add_special_tokens: false }) };
}

const dir = path.join(modelsDir, name);
const goldens = JSON.parse(fs.readFileSync(path.join(dir, 'goldens.json'), 'utf8'));
const processor = await AutoProcessor.from_pretrained(name);
const results = {};
let failures = 0;
for (const t of goldens.tokenizer_cases) {
  const got = Array.from(processor.tokenizer.encode(t.text, { add_special_tokens: false }));
  const withSpecial = Array.from(processor.tokenizer.encode(t.text));
  const decoded = t.plain_ids.length ? processor.tokenizer.decode(t.plain_ids, { skip_special_tokens: true }) : "";
  const ok = same(got, t.ids) && same(withSpecial, t.ids_with_special_tokens) && decoded === t.decoded;
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} tokenizer ${JSON.stringify(t.text)}: ${got.length} ids`
    + (ok ? ' equal (also with add_special_tokens: <bos> prepended; decode equal)'
      : `\n     transformers.js ${JSON.stringify(got)} / ${JSON.stringify(withSpecial)} / ${JSON.stringify(decoded)}`
        + `\n     kit bpe.py      ${JSON.stringify(t.ids)} / ${JSON.stringify(t.ids_with_special_tokens)} / ${JSON.stringify(t.decoded)}`));
}
const checked = goldens.cases.filter((c) => !c.pan_and_scan);
const skipped = goldens.cases.filter((c) => c.pan_and_scan).map((c) => c.name);
console.log(`${name}: ${checked.length} cases checked, ${skipped.length} pan-and-scan cases skipped `
  + `(transformers.js has no pan-and-scan): ${skipped.join(', ')}`);
for (const dtype of dtypes) {
  // q8: as peer-check-qwen.mjs, 'basic' keeps DequantizeLinear -> MatMul arithmetic, which the q8 goldens simulate.
  const session_options = dtype === 'q8' ? { graphOptimizationLevel: 'basic' } : {};
  const model = await AutoModelForImageTextToText.from_pretrained(name, { dtype, session_options });
  const key = `${name}/${dtype}`;
  results[key] = {};
  let exact = 0, required_ok = 0;
  for (const c of checked) {
    const want = dtype === 'fp32' ? c : c.variants[dtype];
    const { text, inputs } = await inputsFor(processor, c, dir);
    const prompt = ids(inputs.input_ids);
    const pixelsSame = !c.needs_resize.some((x) => x);
    let pix = '', okPixels = true;
    if (inputs.pixel_values) {
      const d = inputs.pixel_values.data;
      let sum = 0, sq = 0;
      for (let i = 0; i < d.length; i++) { sum += d[i]; sq += d[i] * d[i]; }
      const headErr = Math.max(...c.pixel_values.head.map((x, i) => Math.abs(d[i] - x)));
      okPixels = same(inputs.pixel_values.dims, c.pixel_values.shape) && (!pixelsSame || headErr <= 1e-6);
      pix = `, pixels |dsum| ${Math.abs(sum - c.pixel_values.sum).toExponential(1)} |dsumsq| ${Math.abs(sq - c.pixel_values.sum_sq).toExponential(1)}`;
    }
    const logits = (await model({ ...inputs })).logits;
    const [, s, v] = logits.dims;
    const logitErr = Math.max(...want.first_step_top5.map(([i, x]) => Math.abs(value(logits, (s - 1) * v + i) - x)));
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    const generated = ids(out).slice(prompt.length);
    const okText = text === c.template_text;
    const okPrompt = same(prompt, c.prompt_ids);
    const d = firstDiff(generated, want.generated_ids);
    const okGen = d === Math.max(generated.length, want.generated_ids.length);
    const okLogits = logitErr <= tolerance[dtype];
    const required = okText && okPrompt && okPixels && (pixelsSame ? okGen && okLogits : true);
    results[key][c.name] = { prompt_ids: prompt, generated_ids: generated, first_step_top5_max_abs_error: logitErr };
    if (!required) failures++; else required_ok++;
    if (okPrompt && okGen) exact++;
    console.log(`${required ? 'ok  ' : 'FAIL'} ${key} ${c.name}: template ${okText ? 'equal' : 'differs'}, prompt ids ${okPrompt ? 'equal' : 'differ'} (${prompt.length}), `
      + `pixels ${okPixels ? 'ok' : 'differ'}, ${okGen ? `greedy ids equal (${generated.length})` : `greedy ids diverge at step ${d}`}, `
      + `first-step top-5 max |diff| ${logitErr.toExponential(2)}${pix}` + (pixelsSame ? '' : ' [resized]'));
    if (!okText) console.log(`     transformers.js ${JSON.stringify(text)}\n     PyTorch golden  ${JSON.stringify(c.template_text)}`);
    if (!okPrompt) console.log(`     transformers.js ${JSON.stringify(prompt)}\n     PyTorch golden  ${JSON.stringify(c.prompt_ids)}`);
    if (!okGen) console.log(`     transformers.js ${JSON.stringify(generated)}\n     PyTorch golden  ${JSON.stringify(want.generated_ids)}`);
  }
  console.log(`${key}: ${required_ok}/${checked.length} cases pass the required checks, `
    + `${exact}/${checked.length} with identical prompt and greedy ids`);
  await model.dispose();
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results));
process.exit(failures === 0 ? 0 : 1);
