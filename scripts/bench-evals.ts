// The evaluation harness's speed: 1000 test items of each task on a fixed tiny model (GPT-2
// layout, 2 layers, width 32, byte tokenizer), batch 64, zero shots; and the same items one at a
// time (batch 1) for one target task and one choice task, to show what batching buys.
//   node --import tsx scripts/bench-evals.ts [--items 1000]
import { ByteTokenizer, END_OF_TEXT } from '../src/data/index.js';
import { Transformer } from '../src/models/transformer.js';
import { modelConfig } from '../src/models/config.js';
import { getEvalTask } from '../src/data/evals/index.js';
import { evaluateEvalTask } from '../src/training/task-eval.js';
import { backend } from '../src/engine/index.js';

const at = process.argv.indexOf('--items');
const items = at > 0 ? Number(process.argv[at + 1]) : 1000;
const tok = new ByteTokenizer({ specialTokens: [END_OF_TEXT] });
const model = new Transformer(modelConfig('gpt2', { vocabSize: 257, nCtx: 128, dModel: 32, nLayer: 2, nHead: 2 }), { seed: 1 });
console.log(`backend ${backend().name}, ${items} items per task`);
console.log('| task | kind | batch | items/s | seconds |');
console.log('|---|---|---|---|---|');
const run = (name: string, batchSize: number, n: number) => {
  const t = getEvalTask(name);
  evaluateEvalTask(model, tok, t, t.defaultSize, { count: 8, batchSize }); // warm-up (Brown loading, buffers)
  const r = evaluateEvalTask(model, tok, t, t.defaultSize, { count: n, batchSize });
  console.log(`| ${name}:${t.defaultSize} | ${t.kind} | ${batchSize} | ${(n / r.seconds).toFixed(0)} | ${r.seconds.toFixed(2)} |`);
};
for (const name of ['addition', 'reverse', 'modular', 'unscramble', 'icl-mapping', 'brown-cloze', 'brown-pos']) run(name, 64, items);
for (const name of ['addition', 'icl-mapping']) run(name, 1, Math.min(items, 200));
