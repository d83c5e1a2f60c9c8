// Runs unmodified transformers.js on the vlm4j reference models (onnx-community layouts) for every
// golden case and compares its prompt ids and greedy ids with the PyTorch goldens.
//
//   node peer-check.mjs [--models DIR] [--json OUT]
//
// Exit code 0 only if every case matches. --json writes {model: {case: {prompt_ids, generated_ids}}}
// for the Java parity test. Network access is off: local files only.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  env, AutoProcessor, AutoTokenizer, RawImage, Tensor,
  Idefics3ForConditionalGeneration, LlavaForConditionalGeneration,
} from '@huggingface/transformers';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelsDir = path.resolve(opt('--models', path.join(here, '..', 'resources', 'models')));
const jsonOut = opt('--json', null);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = modelsDir + path.sep;

const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const ids = (t) => Array.from(t.data, Number);

async function runIdefics3(name, model, processor, tokenizer, c, dir) {
  const text = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  let inputs;
  if (c.images.length > 0) {
    const images = await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
    const options = {};
    if (c.options && 'do_image_splitting' in c.options) options.do_image_splitting = c.options.do_image_splitting;
    inputs = await processor(text, images, options);
  } else {
    // The Idefics3 processor requires images; text-only prompts go through the tokenizer.
    inputs = tokenizer(text);
  }
  return inputs;
}

async function runLlava(name, model, processor, tokenizer, c, dir) {
  const text = processor.apply_chat_template(c.messages, { add_generation_prompt: true });
  if (c.images.length === 0) return tokenizer(text);
  const images = await Promise.all(c.images.map((p) => RawImage.read(path.join(dir, p))));
  if (c.images.length === 1) return processor(images[0], text);
  // transformers.js's LlavaProcessor expands only the first <image> of a prompt (String.replace);
  // for several images we expand every placeholder the way HF Python does and run the unmodified
  // tokenizer, image processor and model on the result.
  const { image_token, patch_size, num_additional_image_tokens } = processor.config;
  const pixels = await processor.image_processor(images);
  const [h, w] = pixels.pixel_values.dims.slice(-2);
  const n = Math.floor(h / patch_size) * Math.floor(w / patch_size) + (num_additional_image_tokens ?? 0);
  const expanded = text.split(image_token).join(image_token.repeat(n));
  return { ...tokenizer(expanded), pixel_values: pixels.pixel_values };
}

const layouts = [
  { name: 'vlm4j-tiny-idefics3', cls: Idefics3ForConditionalGeneration, run: runIdefics3 },
  { name: 'vlm4j-tiny-llava', cls: LlavaForConditionalGeneration, run: runLlava },
];

const results = {};
let failures = 0;
let total = 0;
for (const layout of layouts) {
  const dir = path.join(modelsDir, layout.name);
  const goldens = JSON.parse(fs.readFileSync(path.join(dir, 'goldens.json'), 'utf8'));
  const processor = await AutoProcessor.from_pretrained(layout.name);
  const tokenizer = await AutoTokenizer.from_pretrained(layout.name);
  const model = await layout.cls.from_pretrained(layout.name, { dtype: 'fp32' });
  results[layout.name] = {};
  for (const c of goldens.cases) {
    total++;
    const inputs = await layout.run(layout.name, model, processor, tokenizer, c, dir);
    const prompt = ids(inputs.input_ids);
    const out = await model.generate({ ...inputs, max_new_tokens: c.max_new_tokens, do_sample: false });
    const generated = ids(out).slice(prompt.length);
    results[layout.name][c.name] = { prompt_ids: prompt, generated_ids: generated };
    const okPrompt = eq(prompt, c.prompt_ids);
    const okGen = eq(generated, c.generated_ids);
    if (okPrompt && okGen) {
      console.log(`ok   ${layout.name} ${c.name} (${prompt.length} prompt + ${generated.length} generated tokens)`);
    } else {
      failures++;
      console.log(`FAIL ${layout.name} ${c.name}: prompt ${okPrompt ? 'ok' : 'differs'}, generated ${okGen ? 'ok' : 'differs'}`);
      if (!okGen) console.log(`     transformers.js ${JSON.stringify(generated)}\n     PyTorch golden  ${JSON.stringify(c.generated_ids)}`);
      if (!okPrompt) console.log(`     transformers.js prompt length ${prompt.length}, golden ${c.prompt_ids.length}`);
    }
  }
  await model.dispose();
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results));
console.log(`${total - failures}/${total} golden cases: transformers.js ids equal the PyTorch goldens`);
process.exit(failures === 0 ? 0 : 1);
