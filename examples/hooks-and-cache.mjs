// Load a trained run, read activations at hook points, patch one, and continue text with the KV cache.
//   node examples/train-and-sample.mjs runs/example && node examples/hooks-and-cache.mjs runs/example
import { loadRun, tensor, generate, blockHookNames, mul } from 'windtunnel';

const runDir = process.argv[2];
if (!runDir) throw new Error('usage: node examples/hooks-and-cache.mjs RUN_FOLDER');
const { model, tokenizer, step } = loadRun(runDir);
const ids = tokenizer.encode('the cat sat');
const batch = tensor(Int32Array.from(ids), [1, ids.length], { dtype: 'int32' });

const names = blockHookNames(0);
const { logits, cache } = model.runWithCache(batch, { names: [names.residPost, names.pattern] });
console.log(`checkpoint ${step}: logits [${logits.shape}], resid_post [${cache.get(names.residPost).shape}], pattern [${cache.get(names.pattern).shape}]`);

// Ablate block 0's MLP and compare the last position's top token.
const top = (l) => { const v = l.f.subarray(l.size - model.config.vocabSize); return v.indexOf(Math.max(...v)); };
const ablated = model.forward(batch, { hooks: { [names.mlpOut]: (a) => mul(a, 0) } }).logits;
console.log(`next byte: ${JSON.stringify(tokenizer.decode([top(logits)]))}, with block 0's MLP zeroed: ${JSON.stringify(tokenizer.decode([top(ablated)]))}`);

const out = generate(model, ids, { maxNewTokens: 30, temperature: 0.8, topK: 20, seed: 1 });
console.log('sample:', JSON.stringify(tokenizer.decode(Array.from(out.i))));
