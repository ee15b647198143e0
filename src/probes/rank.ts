// Representation rank and whitening, of activations per layer and of weight matrices. The
// measures live below the probes so that training can log them too: the math in
// engine/linalg.ts, the model's spectra in models/spectra.ts; this module is their probe face.

export { symmetricEigenvalues, singularValues, effectiveRank, stableRank, covariance, isotropyDistance } from '../engine/linalg.js';
export { activationSpectra, weightSpectra, type SpectrumSummary } from '../models/spectra.js';
