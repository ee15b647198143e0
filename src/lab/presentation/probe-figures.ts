// Figures of the dissection toolkit (src/probes) as Vega-Lite specs, drawn to SVG by renderSvg:
// attention patterns per head (one heatmap per head, laid out layer by layer) and a circuit as a
// graph (nodes placed by layer, edges drawn with width by the size of their score and coloured by
// its sign).

import type { TopLevelSpec } from 'vega-lite';
import { figureConfig } from './plots.js';
import type { HeadPattern } from '../../probes/attention.js';
import { modelGraph, type GraphEdge } from '../../probes/graph.js';

/** Heatmaps of attention patterns, one per head (rows: layers, columns: heads); `tokens` label the positions. */
export function attentionPatternSpec(patterns: HeadPattern[], o: { tokens?: string[]; title?: string; cell?: number } = {}): TopLevelSpec {
  if (!patterns.length) throw new Error('attentionPatternSpec: no patterns');
  const T = patterns[0].size;
  const label = (i: number) => `${i}${o.tokens?.[i] !== undefined ? ` ${JSON.stringify(o.tokens[i])}` : ''}`;
  const rows = patterns.flatMap((p) => {
    const out: { panel: string; layer: number; head: number; query: number; key: number; weight: number; from: string; to: string }[] = [];
    for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) {
      out.push({ panel: `L${p.layer} H${p.head}`, layer: p.layer, head: p.head, query: i, key: j, weight: p.pattern[i * T + j], from: label(i), to: label(j) });
    }
    return out;
  });
  const heads = new Set(patterns.map((p) => p.head)).size;
  const side = Math.max(60, (o.cell ?? 8) * T);
  return {
    ...(o.title ? { title: o.title } : {}),
    config: figureConfig,
    datasets: { rows }, data: { name: 'rows' },
    facet: { field: 'panel', type: 'nominal', title: null, sort: { field: 'layer' }, header: { labelFontSize: 11 } },
    columns: heads,
    spec: {
      width: side, height: side,
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'key', type: 'ordinal', title: 'key position', axis: T > 24 ? { labels: false, ticks: false } : {} },
        y: { field: 'query', type: 'ordinal', title: 'query position', axis: T > 24 ? { labels: false, ticks: false } : {} },
        color: { field: 'weight', type: 'quantitative', title: 'attention', scale: { scheme: 'blues', domain: [0, 1] } },
        tooltip: [{ field: 'panel' }, { field: 'from', title: 'query' }, { field: 'to', title: 'key' }, { field: 'weight', format: '.3f' }],
      },
    },
  } as TopLevelSpec;
}

/**
 * A circuit drawn as a graph: every node of the model's graph (grey when no circuit edge touches
 * it), the circuit's edges with width by |score| (blue: positive, red: negative).
 */
export function circuitGraphSpec(c: { nLayer: number; nHead: number }, edges: (GraphEdge & { score: number })[], o: { title?: string } = {}): TopLevelSpec {
  const g = modelGraph(c);
  const H = c.nHead;
  const place = new Map<string, { x: number; y: number }>();
  const mid = (H - 1) / 2;
  place.set('input', { x: mid, y: 0 });
  for (let l = 0; l < c.nLayer; l++) {
    for (let h = 0; h < H; h++) place.set(`a${l}.h${h}`, { x: h, y: 2 * l + 1 });
    place.set(`m${l}`, { x: mid, y: 2 * l + 2 });
  }
  place.set('logits', { x: mid, y: 2 * c.nLayer + 1 });
  const used = new Set(edges.flatMap((e) => [e.from, e.to]));
  const nodes = [...g.senders, g.receivers[g.receivers.length - 1]].map((n) => ({ name: n.name, ...place.get(n.name)!, inCircuit: used.has(n.name) }));
  const maxAbs = Math.max(1e-12, ...edges.map((e) => Math.abs(e.score)));
  const links = edges.map((e) => {
    const a = place.get(e.from), b = place.get(e.to);
    if (!a || !b) throw new Error(`circuitGraphSpec: edge ${e.from}->${e.to} is not in a ${c.nLayer}-layer, ${H}-head model`);
    // An edge between nodes in one column bends sideways a little, so that it does not hide the nodes between.
    const bend = a.x === b.x && b.y - a.y > 1 ? 0.25 : 0;
    return { edge: `${e.from} -> ${e.to}`, x: a.x + bend, y: a.y, x2: b.x + bend, y2: b.y, score: e.score, width: 0.5 + (4 * Math.abs(e.score)) / maxAbs, sign: e.score >= 0 ? 'positive' : 'negative' };
  });
  const xScale = { domain: [-0.8, H - 0.2] }, yScale = { domain: [-0.5, 2 * c.nLayer + 1.5] };
  const axisX = { field: 'x', type: 'quantitative' as const, axis: null, scale: xScale };
  const axisY = { field: 'y', type: 'quantitative' as const, axis: null, scale: yScale };
  return {
    ...(o.title ? { title: o.title } : {}),
    width: Math.max(240, 90 * H), height: Math.max(240, 55 * (2 * c.nLayer + 2)),
    config: { ...figureConfig, view: { stroke: null } },
    layer: [
      {
        data: { values: links },
        mark: { type: 'rule', opacity: 0.75 },
        encoding: {
          x: axisX, y: axisY, x2: { field: 'x2' }, y2: { field: 'y2' },
          strokeWidth: { field: 'width', type: 'quantitative', legend: null, scale: { type: 'identity' } },
          color: { field: 'sign', type: 'nominal', title: 'score', scale: { domain: ['positive', 'negative'], range: ['#4c78a8', '#e45756'] } },
          tooltip: [{ field: 'edge' }, { field: 'score', format: '.4f' }],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'point', filled: true, size: 260 },
        encoding: {
          x: axisX, y: axisY,
          color: { condition: { test: 'datum.inCircuit', value: '#333' }, value: '#ccc' },
          tooltip: [{ field: 'name' }],
        },
      },
      {
        data: { values: nodes },
        mark: { type: 'text', dy: -14, fontSize: 10 },
        encoding: { x: axisX, y: axisY, text: { field: 'name' }, color: { condition: { test: 'datum.inCircuit', value: '#222' }, value: '#aaa' } },
      },
    ],
  } as TopLevelSpec;
}

/** Faithfulness and completeness against the number of edges, one line per method. */
export function circuitCurveSpec(rows: { method: string; edges: number; faithfulness: number; completeness: number }[], o: { title?: string } = {}): TopLevelSpec {
  const long = rows.flatMap((r) => [
    { series: `${r.method} faithfulness`, edges: r.edges, value: r.faithfulness },
    { series: `${r.method} completeness`, edges: r.edges, value: r.completeness },
  ]);
  return {
    ...(o.title ? { title: o.title } : {}),
    width: 420, height: 260, config: figureConfig,
    data: { values: long },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'edges', type: 'quantitative', title: 'edges in the circuit', scale: { type: 'symlog' } },
      y: { field: 'value', type: 'quantitative', title: 'fraction of the full model', scale: { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, sort: null, legend: { labelLimit: 0 } },
      tooltip: [{ field: 'series' }, { field: 'edges' }, { field: 'value', format: '.3f' }],
    },
  } as TopLevelSpec;
}
