// Shared by the model tests: tiny configs, id batches and error measures.

import { Tensor, tensor } from '../../src/engine/index.js';
import { modelConfig, type ModelConfig, type ModelConfigInput, type PresetName } from '../../src/models/config.js';

export const tinySizes = { vocabSize: 50, nCtx: 16, dModel: 32, nLayer: 2, nHead: 4 };

export function tinyConfig(preset: PresetName, extra: Partial<ModelConfigInput> = {}): ModelConfig {
  return modelConfig(preset, { ...tinySizes, ...extra });
}

export function ids(rows: number[][]): Tensor {
  return tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length], { dtype: 'int32' });
}

/** Deterministic pseudo-random token rows. */
export function randomIds(B: number, T: number, V: number, seed = 1): Tensor {
  let s = seed;
  const rows = Array.from({ length: B }, () => Array.from({ length: T }, () => { s = (s * 1103515245 + 12345) % 2147483648; return s % V; }));
  return ids(rows);
}

/** max |a - b| / max |b|: the error relative to the reference tensor's scale. */
export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`relErr: lengths ${a.length} and ${ref.length} differ`);
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / (scale || 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err;
}
