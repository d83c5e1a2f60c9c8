// node tfjs_run.js MODEL_DIR INPUT.bin N H W OUTPUT.bin
// Runs the TF.js graph model (pure JS CPU backend) on N NHWC float32 images, writes float32 logits.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [dir, input, n, h, w, output] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [];
  const parts = [];
  for (const group of meta.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: meta.modelTopology, weightSpecs: specs, weightData, format: meta.format,
    generatedBy: meta.generatedBy, convertedBy: meta.convertedBy}));
  const raw = fs.readFileSync(input);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const x = tf.tensor4d(data, [Number(n), Number(h), Number(w), 3]);
  const y = model.execute(x);
  const out = await y.data();
  fs.writeFileSync(output, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
  console.log(`tfjs ${tf.version.tfjs} backend ${tf.getBackend()}: logits ${y.shape}`);
}
main().catch(e => { console.error(e); process.exit(1); });
