// Training compute, counted one way: the one owner of the FLOP formula that the lab's cost
// model, the scaling fits (IsoFLOP levels, frontiers, allocations) and the reports all use.
// A forward and backward pass cost about 6 FLOPs per parameter a token meets, plus attention's
// score and value products, which grow with the context rather than with the parameters.
// Which parameters count is a convention, and the conventions differ by 1.1x to 2.3x at our
// sizes, which bends fitted exponents (Porian et al. 2024 trace the Kaplan-Chinchilla gap
// partly to this):
//
//   non-embedding  C = 6 N D, N the non-embedding parameters (Kaplan et al. 2020)
//   total          C = 6 N D, N every parameter, embedding tables included (Hoffmann et al. 2022
//                  count the embeddings in N)
//   attention      C = (6 N_matmul + 12 L T d) D: every weight a token is multiplied by (the
//                  non-embedding parameters and a tied output head) plus attention's QK^T and AV
//                  over a context of T (the PaLM / nanoGPT count); the lab's cost model
//
// The law's N is always the non-embedding count; only compute changes with the convention.

import type { ParamCounts } from '../../models/config.js';

export const flopConventions = ['non-embedding', 'total', 'attention'] as const;
export type FlopConvention = (typeof flopConventions)[number];

/** The convention of the lab's cost model (runCost), the studies and `fit scaling --sweep`. */
export const labFlopConvention: FlopConvention = 'attention';

/** What a convention needs to know about a model, per token. */
export interface ComputeShape {
  /** Non-embedding parameters N. */
  params: number;
  /** All parameters, embedding tables included. */
  totalParams?: number;
  /** Parameters a token is multiplied by: the non-embedding ones plus a tied output head (default: params). */
  matmulParams?: number;
  /** Attention's QK^T and AV per token, forward and backward: 12 nLayer context dModel. */
  attentionFlopsPerToken?: number;
}

export function isFlopConvention(s: string): s is FlopConvention {
  return (flopConventions as readonly string[]).includes(s);
}

/** One line naming the convention, for reports. */
export function describeFlops(c: FlopConvention): string {
  switch (c) {
    case 'non-embedding': return 'C = 6ND with N the non-embedding parameters (Kaplan et al. 2020)';
    case 'total': return 'C = 6ND with N all parameters, embeddings included (as Hoffmann et al. 2022 count N)';
    case 'attention': return 'C = (6 N_matmul + 12 L T d) D: non-embedding and tied-head parameters plus attention (the PaLM / nanoGPT count; the lab\'s cost model)';
  }
}

/** Attention's QK^T and AV per token, forward and backward. */
export function attentionFlopsPerToken(nLayer: number, context: number, dModel: number): number {
  return 12 * nLayer * context * dModel;
}

/** FLOPs per training token under a convention; throws naming the field a shape lacks. */
export function flopsPerToken(shape: ComputeShape, c: FlopConvention): number {
  switch (c) {
    case 'non-embedding': return 6 * shape.params;
    case 'total':
      if (shape.totalParams === undefined) throw new Error('the total-parameter FLOP convention needs every model\'s total parameter count (a total_params column)');
      return 6 * shape.totalParams;
    case 'attention':
      if (shape.attentionFlopsPerToken === undefined) throw new Error('the attention FLOP convention needs every model\'s attention FLOPs per token (an attention_flops_per_token column: 12 nLayer context dModel)');
      return 6 * (shape.matmulParams ?? shape.params) + shape.attentionFlopsPerToken;
  }
}

export function trainingFlops(shape: ComputeShape, tokens: number, c: FlopConvention): number {
  return flopsPerToken(shape, c) * tokens;
}

/** A model's shape from its parameter counts and layout. */
export function modelComputeShape(counts: ParamCounts, m: { tiedEmbeddings: boolean; vocabSize: number; dModel: number; nLayer: number }, context: number): Required<ComputeShape> {
  return {
    params: counts.nonEmbedding,
    totalParams: counts.total,
    matmulParams: counts.nonEmbedding + (m.tiedEmbeddings ? m.vocabSize * m.dModel : 0),
    attentionFlopsPerToken: attentionFlopsPerToken(m.nLayer, context, m.dModel),
  };
}
