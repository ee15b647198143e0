// Left padding (ForwardOptions.leftPad): batches of unequal prompts, each row padded on the left
// so all rows end at the same column. Padding is "document 0" and real tokens "document 1" for
// attention's masks, and each row's positions count from its own first real token, so a row
// computes what it would alone. Only attention can skip padding keys; recurrent mixers would
// fold the padding into their state, so the model refuses leftPad for them.
import { Tensor } from '../engine/index.js';

/** What left padding (ForwardOptions.leftPad) means for one forward call of T tokens from column pos0. */
export interface Padding {
  /** int32 [B, T]: each token's position within its own row (0 for padding). */
  positions: Tensor;
  /** int32 [B, T]: 1 for real query tokens, 0 for padding. */
  realQ: Tensor;
  /** int32 [B, Tk] over the keys (cache and this call): 1 for real tokens. */
  realK(Tk: number): Tensor;
  /** Rotary tables gathered at `positions`, one row per (b, t). */
  ropeTables(t: { cos: Tensor; sin: Tensor }): { cos: Tensor; sin: Tensor };
}

export function paddingOf(pads: readonly number[], B: number, T: number, pos0: number): Padding {
  const positions = new Int32Array(B * T), realQ = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const col = pos0 + t;
    realQ[b * T + t] = col >= pads[b] ? 1 : 0;
    positions[b * T + t] = Math.max(0, col - pads[b]);
  }
  const realK = (Tk: number): Tensor => {
    const m = new Int32Array(B * Tk);
    for (let b = 0; b < B; b++) for (let j = 0; j < Tk; j++) m[b * Tk + j] = j >= pads[b] ? 1 : 0;
    return new Tensor(m, [B, Tk]);
  };
  let gathered: { cos: Tensor; sin: Tensor } | null = null;
  const ropeTablesAt = (t: { cos: Tensor; sin: Tensor }) => {
    if (gathered) return gathered;
    const half = t.cos.shape[1];
    const pick = (src: Tensor) => {
      const out = src.dtype === 'float64' ? new Float64Array(B * T * half) : new Float32Array(B * T * half);
      for (let r = 0; r < B * T; r++) out.set(src.f.subarray(positions[r] * half, (positions[r] + 1) * half), r * half);
      return new Tensor(out, [B * T, half]);
    };
    return (gathered = { cos: pick(t.cos), sin: pick(t.sin) });
  };
  return { positions: new Tensor(positions, [B, T]), realQ: new Tensor(realQ, [B, T]), realK, ropeTables: ropeTablesAt };
}
