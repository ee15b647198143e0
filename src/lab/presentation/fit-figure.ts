// The figure of a scaling fit (`windtunnel fit scaling --figure FILE`) from the rows of
// src/lab/fit/figure-rows.ts: the observed loss against compute C (the fit's FLOP convention) coloured by model size,
// the fitted law drawn along each size's tokens, the compute-optimal frontier, and below it the
// log residuals. One
// Vega-Lite spec (two stacked panels) rendered with renderSvg; an .html file wraps that SVG
// with the fit's text, so it opens offline.

import { extname } from 'node:path';
import { writeFileDurable } from '../../base/durable.js';
import { figureConfig, renderSvg, type TopLevelSpec } from './plots.js';
import { esc } from './report.js';
import type { ScalingFitRows } from '../fit/figure-rows.js';

/** The fit as one Vega-Lite spec: loss against compute (law and frontier) over the residuals. */
export function scalingFitSpec(rows: ScalingFitRows): TopLevelSpec {
  const x = { field: 'x', type: 'quantitative', title: rows.computeTitle, scale: { type: 'log', nice: false } };
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
 * with the warnings above it and `text` (the printed fit) beneath. Other extensions are refused.
 */
export async function writeScalingFitFigure(rows: ScalingFitRows, warnings: readonly string[], path: string, text: string): Promise<void> {
  const kind = extname(path).toLowerCase();
  if (kind !== '.svg' && kind !== '.html') throw new Error(`--figure ${path}: the file must end in .svg or .html`);
  const svg = await renderSvg(scalingFitSpec(rows));
  if (kind === '.svg') {
    writeFileDurable(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
    return;
  }
  const warned = warnings.length ? `<h2>Warnings</h2><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  writeFileDurable(path, [
    '<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8"><title>Scaling fit</title>',
    '<style>body{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;max-width:1100px;margin:2em auto;padding:0 1em}svg{max-width:100%;height:auto}pre{font-size:12px;overflow-x:auto}</style>',
    '</head><body>', '<h1>Scaling fit</h1>', warned, svg, `<pre>${esc(text)}</pre>`, '</body></html>', '',
  ].join('\n'));
}
