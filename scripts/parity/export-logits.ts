// Our side of the export check: loads a Hugging Face export folder (written by
// `windtunnel export`), runs a fixed batch and writes the ids and our logits as JSON for
// scripts/parity/check_hf_export.py to compare against plain PyTorch.
//   node --import tsx scripts/parity/export-logits.ts EXPORT_DIR OUT.json
import { writeFileSync } from 'node:fs';
import { Rng, Tensor, noGrad } from '../../src/engine/index.js';
import { importHF } from '../../src/models/hf.js';

const [dir, out] = process.argv.slice(2);
if (!dir || !out) { console.error('usage: export-logits.ts EXPORT_DIR OUT.json'); process.exit(2); }
const model = importHF(dir);
const { vocabSize, nCtx } = model.config;
const B = 2, T = Math.min(16, nCtx);
const rng = new Rng(5);
const ids = Int32Array.from({ length: B * T }, () => rng.int(vocabSize));
const { logits } = noGrad(() => model.forward(new Tensor(ids, [B, T])));
writeFileSync(out, JSON.stringify({ shape: [B, T], ids: Array.from(ids), logits: Array.from(logits.data) }));
console.log(`wrote ${B}x${T} ids and logits ${logits.shape.join('x')} to ${out}`);
