// The studies, by name: what `windtunnel study <name>` and `study list` read. Add a study by
// writing its file beside this one and adding it here.

import type { Study } from './study.js';
import { wsdVsCosine } from './wsd-vs-cosine.js';
import { scalingLaw } from './scaling-law.js';
import { batchLr } from './batch-lr.js';
import { coordCheck } from './coord-check.js';
import { mupTransfer } from './mup-transfer.js';
import { mupAblation } from './mup-ablation.js';
import { layerRedundancy } from './layer-redundancy.js';
import { cotExpressivity } from './cot-expressivity.js';
import { minicpmRecipe } from './minicpm-recipe.js';
import { efficientWidth } from './efficient-width.js';
import { efficientMixers } from './efficient-mixers.js';
import { lifelongEditing } from './lifelong-editing.js';
import { lnNonlinearity } from './ln-nonlinearity.js';
import { emergenceVsLoss } from './emergence-vs-loss.js';

export const studies: Record<string, Study> = {
  [wsdVsCosine.name]: wsdVsCosine,
  [scalingLaw.name]: scalingLaw,
  [batchLr.name]: batchLr,
  [coordCheck.name]: coordCheck,
  [mupTransfer.name]: mupTransfer,
  [mupAblation.name]: mupAblation,
  [layerRedundancy.name]: layerRedundancy,
  [cotExpressivity.name]: cotExpressivity,
  [minicpmRecipe.name]: minicpmRecipe,
  [efficientWidth.name]: efficientWidth,
  [efficientMixers.name]: efficientMixers,
  [lifelongEditing.name]: lifelongEditing,
  [lnNonlinearity.name]: lnNonlinearity,
  [emergenceVsLoss.name]: emergenceVsLoss,
};

export { budgets, planCost, sweepName, type Analysis, type Budget, type Study, type StudyRun, type Verdict } from './study.js';
export { runStudy, type RunStudyOptions, type StudyEvent, type StudyResult } from './run.js';
