// The official `openai` npm client (pinned in package-lock.json) against a running vlm4j server:
// a text request, a streamed image request, an image request, a json_schema request and two bad
// requests. Prints one JSON object with what the client returned; NodeOpenAiClientTest compares it
// with VisionLanguageModel.generate and validates the json_schema answer.
//
//   node openai-client.mjs --base http://127.0.0.1:PORT/v1 --key KEY --model ID --image FILE.png
//                          --prompt TEXT --schema JSON
import fs from 'node:fs';
import OpenAI from 'openai';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`missing ${name}`);
  return args[i + 1];
};
const model = opt('--model');
const prompt = opt('--prompt');
const schema = JSON.parse(opt('--schema'));
const client = new OpenAI({ baseURL: opt('--base'), apiKey: opt('--key'), maxRetries: 0, timeout: 30_000 });
const dataUri = 'data:image/png;base64,' + fs.readFileSync(opt('--image')).toString('base64');
const withImage = (url) => [
  { role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: prompt }] },
];
const pkg = JSON.parse(fs.readFileSync(new URL('./node_modules/openai/package.json', import.meta.url), 'utf8'));
const out = { client: `${pkg.name} ${pkg.version}` };

// 1. non-streaming, text only
const text = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: prompt }], max_completion_tokens: 16, temperature: 0,
});
out.text = { content: text.choices[0].message.content, finish_reason: text.choices[0].finish_reason,
  usage: text.usage, id: text.id, object: text.object };

// 2. streaming, with an image and include_usage
const stream = await client.chat.completions.create({
  model, messages: withImage(dataUri), max_completion_tokens: 24, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let streamed = '';
let chunks = 0;
const finishes = [];
let streamUsage = null;
for await (const chunk of stream) {
  chunks++;
  for (const c of chunk.choices) {
    if (c.delta?.content) streamed += c.delta.content;
    if (c.finish_reason) finishes.push(c.finish_reason);
  }
  if (chunk.usage) streamUsage = chunk.usage;
}
out.stream = { content: streamed, chunks, finish_reasons: finishes, usage: streamUsage };

// 3. non-streaming with an image
const image = await client.chat.completions.create({
  model, messages: withImage(dataUri), max_tokens: 24, temperature: 0,
});
out.image = { content: image.choices[0].message.content, finish_reason: image.choices[0].finish_reason,
  usage: image.usage };

// 4. structured output
const structured = await client.chat.completions.create({
  model, messages: withImage(dataUri), max_completion_tokens: 64, temperature: 0,
  response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
});
out.json_schema = { content: structured.choices[0].message.content,
  finish_reason: structured.choices[0].finish_reason };

// 5. typed errors: a corrupt image and an unknown model
const failure = async (request) => {
  try {
    await client.chat.completions.create(request);
    return { thrown: false };
  } catch (e) {
    return { thrown: true, class: e.constructor.name, status: e.status, code: e.code ?? null,
      param: e.param ?? null, api_error: e instanceof OpenAI.APIError };
  }
};
out.corrupt_image = await failure({ model, messages: withImage('data:image/png;base64,aGVsbG8gd29ybGQ='),
  max_tokens: 4 });
out.unknown_model = await failure({ model: 'gpt-4o', messages: [{ role: 'user', content: prompt }], max_tokens: 4 });

process.stdout.write(JSON.stringify(out) + '\n');
