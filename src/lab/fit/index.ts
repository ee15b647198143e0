// Scaling-law fitting, one idea per file:
//   lbfgs.ts        L-BFGS with a strong-Wolfe line search
//   huber.ts        the Huber loss
//   chinchilla.ts   approach 3: L(N, D) = E + A/N^alpha + B/D^beta by Huber + L-BFGS from a grid
//   bootstrap.ts    resampled (or wild cluster) refits and percentile intervals
//   prediction.ts   prediction intervals: the refits' spread plus observation noise
//   flops.ts        the one FLOP formula, by convention (non-embedding, total, attention)
//   envelope.ts     approach 1: lowest loss per compute
//   isoflop.ts      approach 2: IsoFLOP parabolas
//   frontier.ts     N_opt ∝ C^a, D_opt ∝ C^b fits shared by approaches 1 and 2
//   stats.ts        percentiles, t quantiles, line fits, small linear algebra
//   points.ts       input tables (CSV / JSON, zod-checked) and exclusions
//   store-points.ts points from the results store
//   scaling.ts      fitScaling: all three approaches with their warnings
//   figure-rows.ts  the rows of a fit's figure (drawn by presentation/fit-figure.ts)

export { minimize, type LbfgsOptions, type LbfgsResult, type Objective } from './lbfgs.js';
export { huber, huberGrad, chinchillaHuberDelta } from './huber.js';
export {
  chinchillaGrid, coarseGrid, computeOptimal, computeOptimalBy, fitParametric, gridStarts, huberObjective, logData, predictLoss, toParams, toTheta,
  type Allocation, type LawParams, type ParametricFit, type StartGrid,
} from './chinchilla.js';
export {
  bootstrapParametric, replicator, resampler, restartGrid, intervalOf,
  type BootstrapMethod, type BootstrapOptions, type BootstrapResult, type BootstrapStarts, type Replicate,
} from './bootstrap.js';
export {
  attentionFlopsPerToken, describeFlops, flopConventions, flopsPerToken, isFlopConvention, labFlopConvention, modelComputeShape, trainingFlops,
  type ComputeShape, type FlopConvention,
} from './flops.js';
export { predictionInterval, residualSd, type Prediction, type PredictionOptions } from './prediction.js';
export { approach1, type Approach1Result } from './envelope.js';
export { approach2, type Approach2Result, type Parabola } from './isoflop.js';
export { fitLine, holm, percentile, percentileInterval, studentTQuantile } from './stats.js';
export { FitInputError, filterPoints, parseCsvTable, parseJsonTable, readTable, type Columns, type ScalingPoint } from './points.js';
export { pointsFromStore, type StorePointOptions } from './store-points.js';
export { fitScaling, type BootstrapBy, type ScalingFit, type ScalingOptions } from './scaling.js';
export { scalingFitRows, type ScalingFitRows } from './figure-rows.js';
