// Train a tiny byte-level GPT on a few sentences, with progress callbacks, then sample from it.
//   node examples/train-and-sample.mjs [run folder]
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainRun, generate, END_OF_TEXT } from 'windtunnel';

const work = mkdtempSync(join(tmpdir(), 'windtunnel-example-'));
const corpus = join(work, 'corpus');
mkdirSync(corpus);
for (let i = 0; i < 12; i++) writeFileSync(join(corpus, `doc${i}.txt`), 'the cat sat on the mat. the dog sat on the log. '.repeat(8));

const result = await trainRun({
  model: { preset: 'gpt2', dModel: 32, nLayer: 2, nHead: 2 },
  data: { corpus: { kind: 'text', path: corpus }, tokenizer: { kind: 'byte' }, validFraction: 0.25, cacheDir: join(work, 'cache') },
  schedule: { kind: 'constant' }, lr: 3e-3, batchSize: 8, context: 32, steps: 60, evalBatches: 2, seed: 0,
}, {
  runDir: process.argv[2] ?? join(work, 'run'),
  onEvent: (e) => {
    if (e.type === 'step' && e.step % 20 === 0) console.log(`step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(3)}`);
    if (e.type === 'eval') console.log(`validation loss ${e.loss.toFixed(3)} at step ${e.step}`);
  },
});

const { model, tokenizer } = result;
const prompt = [tokenizer.specialId(END_OF_TEXT), ...tokenizer.encode('the ')];
const out = generate(model, prompt, { maxNewTokens: 40, temperature: 0, seed: 0 });
console.log(`${result.status} after ${result.step} steps in ${result.runDir}`);
console.log('greedy sample:', JSON.stringify(tokenizer.decode(Array.from(out.i.subarray(1)))));
