// Runs transformers.js 4.3.1's own smart_resize (image_processors_utils.js, unmodified; imported by
// file path because the package does not export it) on every row of the kit's table
// src/test/resources/fixtures/qwen_smart_resize.json (1xN strips, 7x5, 200:1 and just over, huge
// sides, several pixel budgets) and compares: the same [height, width], or an error where the table
// says the row raises. The Java side (SmartResizePreprocessorTest) checks the same table, so Java and
// transformers.js resize every row alike.
//
//   node smart-resize-check.mjs [--table FILE]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const i = args.indexOf('--table');
const table = i >= 0 ? args[i + 1] : path.join(here, '..', 'resources', 'fixtures', 'qwen_smart_resize.json');
const { smart_resize } = await import('./node_modules/@huggingface/transformers/src/image_processors_utils.js');

const rows = JSON.parse(fs.readFileSync(table, 'utf8')).cases;
let ok = 0;
let raised = 0;
const bad = [];
for (const r of rows) {
  let got;
  try {
    // the function takes (height, width) and returns [width, height], which its caller hands to
    // RawImage.resize(width, height)
    const [w, h] = smart_resize(r.height, r.width, r.factor, r.min_pixels, r.max_pixels);
    got = [h, w];
  } catch (e) {
    got = null;
  }
  if (r.raises) {
    if (got === null) { ok++; raised++; } else bad.push(`${r.height}x${r.width} (${r.min_pixels}..${r.max_pixels}): expected an error, got ${got}`);
  } else if (got !== null && got[0] === r.result[0] && got[1] === r.result[1]) {
    ok++;
  } else {
    bad.push(`${r.height}x${r.width} (${r.min_pixels}..${r.max_pixels}): expected ${r.result}, got ${got}`);
  }
}
for (const b of bad.slice(0, 20)) console.log('FAIL ' + b);
console.log(`smart_resize: transformers.js equals the table on ${ok} of ${rows.length} rows (${raised} raise)`);
process.exit(bad.length === 0 && rows.length > 0 ? 0 : 1);
