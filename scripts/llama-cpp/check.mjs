// Runs a GGUF file with the real llama.cpp (node-llama-cpp's prebuilt CPU binary) and prints one
// JSON line: llama.cpp's own tokenization of a text, greedy continuation ids of a prompt, and the
// next-token distribution after the prompt. test/models/gguf-llama.test.ts compares these with ours.
//   node scripts/llama-cpp/check.mjs MODEL.gguf '{"text": "...", "prompt": [ids], "maxTokens": 20}'
// Install once: (cd scripts/llama-cpp && npm ci --ignore-scripts --omit=optional --no-audit --no-fund)
// (scripts/setup.sh does it when WINDTUNNEL_WITH_LLAMA_CPP=1).
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [modelPath, requestJson] = process.argv.slice(2);
if (!modelPath || !requestJson) {
  console.error('usage: node scripts/llama-cpp/check.mjs MODEL.gguf REQUEST_JSON');
  process.exit(2);
}
const request = JSON.parse(requestJson);
// build: 'never' and no GPU: the prebuilt CPU binary from npm, nothing downloaded or compiled.
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: request.contextSize ?? 64, batchSize: request.contextSize ?? 64, threads: 1 });

const tokenized = request.text === undefined ? null : model.tokenize(request.text, false).map(Number);

async function run(temperature, probabilities) {
  const seq = context.getSequence();
  const out = [];
  let distribution = null;
  for await (const step of seq.evaluateWithMetadata(request.prompt, { probabilities }, { temperature, topK: 0, topP: 1, minP: 0 })) {
    if (distribution === null && probabilities) distribution = Object.fromEntries([...step.probabilities].map(([t, p]) => [Number(t), p]));
    out.push(Number(step.token));
    if (out.length >= request.maxTokens) break;
  }
  seq.dispose();
  return { out, distribution };
}

const greedy = await run(0, false);
// Temperature 1 with no other sampler: the model's own softmax over the whole vocabulary.
const dist = await run(1, true);
console.log(JSON.stringify({ tokenized, greedy: greedy.out, distribution: dist.distribution }));
await context.dispose();
await model.dispose();
await llama.dispose();
