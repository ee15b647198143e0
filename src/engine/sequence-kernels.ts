// The kernel contract of the recurrent and compressed token mixers (Mamba's selective scan,
// RWKV-6's time mix, causal low-rank attention), part of every Backend (backend.ts). Same
// conventions as backend.ts: raw arrays and sizes, validated by the ops before a kernel
// runs, outputs fully written unless named acc*, Float64Array accepted by the reference.
//
// Legend: B batch, T tokens, C channels, N state size per channel, H heads, D head size.

/** The backend's float buffers (backend.ts's FloatArray; spelled out here so the two files do not import each other). */
type FloatArray = Float32Array | Float64Array;

/**
 * Mamba-1 selective scan on x, dt [B, T, C], A [C, N], Bm, Cm [B, T, N]; state h [B, C, N].
 * delta = softplus(dt); per channel c and state n:
 *   h_t[c,n] = exp(delta_t[c] A[c,n]) h_{t-1}[c,n] + delta_t[c] Bm_t[n] x_t[c]
 *   y_t[c]   = sum_n Cm_t[n] h_t[c,n]
 * (Mamba's zero-order hold for A, Euler for B, as in the paper's reference scan.)
 */
export interface SelectiveScanShape { B: number; T: number; C: number; N: number }

/**
 * RWKV-6 time mix (the "wkv" recurrence) on r, k, v, w [B, T, H, D] with the bonus u [H, D];
 * state S [B, H, D(key i), D(value j)]. decay_t[i] = exp(-exp(w_t[i])), so any real w is a
 * decay in (0, 1):
 *   out_t[j] = sum_i r_t[i] (S_{t-1}[i,j] + u[i] k_t[i] v_t[j])
 *   S_t[i,j] = decay_t[i] S_{t-1}[i,j] + k_t[i] v_t[j]
 */
export interface Rwkv6Shape { B: number; T: number; H: number; D: number }

/**
 * Causal low-rank attention on q [B, Tq, H, D], k, v [B, Tk, H, D] and the compressed keys
 * and values kc, vc [B, nc * rank, H, D] (rows r of block j summarise the keys of
 * complete block j: positions [j L, (j+1) L)). Key row t sits at absolute position pos0 + t,
 * query i at pos0 + Tk - Tq + i. A query at position p in block b = floor(p / L) sees the
 * compressed rows of blocks j < min(b, nc) and the raw keys of its own block up to p:
 *   out = softmax(scale q [kc rows ; local k]^T) [vc rows ; local v]
 * Saves the log-sum-exp [B, H, Tq]. The raw keys of the query's block must all be in k.
 */
export interface LowRankShape {
  B: number; H: number; Tq: number; Tk: number; D: number;
  blockSize: number; rank: number; nc: number; scale: number; pos0: number;
}

export interface SequenceMixerKernels {
  /** y [B, T, C]; hT [B, C, N] the state after the last token; h0 may be null (zeros). */
  selectiveScan(x: FloatArray, dt: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, h0: FloatArray | null,
    y: FloatArray, hT: FloatArray, s: SelectiveScanShape): void;
  /** Gradients of sum(y * dy) with respect to x, dt, A, Bm, Cm (h0 gets none). */
  selectiveScanBackward(x: FloatArray, dt: FloatArray, A: FloatArray, Bm: FloatArray, Cm: FloatArray, h0: FloatArray | null,
    dy: FloatArray, dx: FloatArray, ddt: FloatArray, dA: FloatArray, dBm: FloatArray, dCm: FloatArray, s: SelectiveScanShape): void;

  /** out [B, T, H, D]; sT [B, H, D, D] the state after the last token; s0 may be null (zeros). */
  rwkv6(r: FloatArray, k: FloatArray, v: FloatArray, w: FloatArray, u: FloatArray, s0: FloatArray | null,
    out: FloatArray, sT: FloatArray, s: Rwkv6Shape): void;
  /** Gradients of sum(out * dout) with respect to r, k, v, w, u (s0 gets none). */
  rwkv6Backward(r: FloatArray, k: FloatArray, v: FloatArray, w: FloatArray, u: FloatArray, s0: FloatArray | null,
    dout: FloatArray, dr: FloatArray, dk: FloatArray, dv: FloatArray, dw: FloatArray, du: FloatArray, s: Rwkv6Shape): void;

  /** out [B, Tq, H, D], lse [B, H, Tq]. */
  lowrankAttention(q: FloatArray, k: FloatArray, v: FloatArray, kc: FloatArray, vc: FloatArray,
    out: FloatArray, lse: FloatArray, s: LowRankShape): void;
  lowrankAttentionBackward(q: FloatArray, k: FloatArray, v: FloatArray, kc: FloatArray, vc: FloatArray,
    out: FloatArray, lse: FloatArray, dout: FloatArray,
    dq: FloatArray, dk: FloatArray, dv: FloatArray, dkc: FloatArray, dvc: FloatArray, s: LowRankShape): void;
}
