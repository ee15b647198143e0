// The figure of a scaling fit (`windtunnel fit scaling --figure FILE`): the observed loss
// against compute C = 6ND coloured by model size, the fitted law L(N, D) drawn along each
// size's tokens, the compute-optimal frontier L*(C) of the fit, and below it the log
// residuals against compute. One Vega-Lite spec (two stacked panels) rendered to SVG with
// renderSvg; a .html file wraps that SVG with the fit's text, so it opens offline.

import { extname } from 'node:path';
import { computeOptimal, predictLoss } from '../fit/chinchilla.js';
import type { ScalingFit } from '../fit/scaling.js';
import { writeFileDurable } from '../../base/durable.js';
import { figureConfig, renderSvg, type TopLevelSpec } from './plots.js';
import { esc } from './report.js';

const sizeLabel = (n: number): string => `N=${n.toPrecision(3).replace(/\.?0+(e|$)/, '$1').replace('e+', 'e')}`;

/** Points along [lo, hi] evenly spaced in log. */
function logSpace(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  return Array.from({ length: n }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1)));
}

/** The rows of the figure: observed points, the law along each size, the frontier, the residuals. */
export function scalingFitRows(fit: ScalingFit): {
  observed: { series: string; x: number; y: number; predicted: number; run: string }[];
  law: { series: string; x: number; y: number }[];
  frontier: { x: number; y: number }[];
  residuals: { series: string; x: number; y: number; run: string }[];
} {
  const a3 = fit.approach3, p = { E: a3.E, A: a3.A, B: a3.B, alpha: a3.alpha, beta: a3.beta };
  const observed = a3.residuals.map((r) => ({ series: sizeLabel(r.params), x: 6 * r.params * r.tokens, y: r.observed, predicted: r.predicted, run: r.run ?? '' }));
  const residuals = a3.residuals.map((r) => ({ series: sizeLabel(r.params), x: 6 * r.params * r.tokens, y: r.logResidual, run: r.run ?? '' }));
  const law: { series: string; x: number; y: number }[] = [];
  for (const N of [...new Set(a3.residuals.map((r) => r.params))].sort((a, b) => a - b)) {
    const Ds = a3.residuals.filter((r) => r.params === N).map((r) => r.tokens);
    for (const D of logSpace(Math.min(...Ds), Math.max(...Ds), 24)) law.push({ series: sizeLabel(N), x: 6 * N * D, y: predictLoss(p, N, D) });
  }
  const [cLo, cHi] = fit.input.range.compute;
  const frontier = logSpace(cLo, Math.max(cHi, ...a3.allocation.map((a) => a.compute)), 40)
    .map((C) => ({ x: C, y: computeOptimal(p, C).loss }))
    .filter((r) => Number.isFinite(r.y) && r.y > 0);
  return { observed, law, frontier, residuals };
}

/** The fit as one Vega-Lite spec: loss against compute (law and frontier) over the residuals. */
export function scalingFitSpec(fit: ScalingFit): TopLevelSpec {
  const rows = scalingFitRows(fit);
  const x = { field: 'x', type: 'quantitative', title: 'compute C = 6ND (FLOPs)', scale: { type: 'log', nice: false } };
  const colour = { field: 'series', type: 'nominal', title: 'model size', sort: null, scale: { scheme: 'viridis' } };
  const tooltip = [{ field: 'series', title: 'size' }, { field: 'x', title: 'compute', format: '.3~e' }, { field: 'y', format: '.4~g' }];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: figureConfig,
    datasets: rows,
    vconcat: [{
      title: 'Loss against compute: observed (points), fitted law per size (lines), compute-optimal frontier (dashed)',
      width: 520, height: 320,
      layer: [
        { data: { name: 'law' }, mark: { type: 'line', strokeWidth: 1.5, opacity: 0.8 }, encoding: { x, y: { field: 'y', type: 'quantitative', title: 'loss', scale: { type: 'log', nice: false } }, color: colour, detail: { field: 'series' } } },
        { data: { name: 'observed' }, mark: { type: 'point', filled: true, size: 36 }, encoding: { x, y: { field: 'y', type: 'quantitative' }, color: colour, tooltip: [...tooltip, { field: 'predicted', title: 'law', format: '.4~g' }, { field: 'run' }] } },
        { data: { name: 'frontier' }, mark: { type: 'line', color: '#222', strokeDash: [6, 4], strokeWidth: 2 }, encoding: { x, y: { field: 'y', type: 'quantitative' } } },
      ],
      resolve: { scale: { y: 'shared' } },
    }, {
      title: 'Residuals: log(observed) - log(law)',
      width: 520, height: 160,
      layer: [
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#999' }, encoding: { y: { field: 'zero', type: 'quantitative' } } },
        { data: { name: 'residuals' }, mark: { type: 'point', filled: true, size: 30 }, encoding: { x, y: { field: 'y', type: 'quantitative', title: 'log residual' }, color: colour, tooltip: [...tooltip, { field: 'run' }] } },
      ],
    }],
  } as unknown as TopLevelSpec;
}

/**
 * Writes the figure to `path` (atomically): an .svg file, or an .html page with the SVG inline
 * and `text` (the printed fit, warnings first) beneath. Other extensions are refused.
 */
export async function writeScalingFitFigure(fit: ScalingFit, path: string, text: string): Promise<void> {
  const kind = extname(path).toLowerCase();
  if (kind !== '.svg' && kind !== '.html') throw new Error(`--figure ${path}: the file must end in .svg or .html`);
  const svg = await renderSvg(scalingFitSpec(fit));
  if (kind === '.svg') {
    writeFileDurable(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
    return;
  }
  const warnings = fit.warnings.length ? `<h2>Warnings</h2><ul>${fit.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  writeFileDurable(path, [
    '<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8"><title>Scaling fit</title>',
    '<style>body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;max-width:1100px;margin:2em auto;padding:0 1em}svg{max-width:100%;height:auto}pre{font-size:12px;overflow-x:auto}</style>',
    '</head><body>', '<h1>Scaling fit</h1>', warnings, svg, `<pre>${esc(text)}</pre>`, '</body></html>', '',
  ].join('\n'));
}
