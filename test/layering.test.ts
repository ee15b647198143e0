// The dependency rule of the layout (README): interfaces -> studies -> lab | editing -> training | probes ->
// models | data -> engine -> base, with no import pointing up or sideways between layers, the
// lab's wings in their own order (experiments -> presentation -> fit -> results), no import the
// type checker cannot see (a dynamic import of a computed specifier), and no import cycle
// between files except the engine's and the tokenizer's, which are one unit each (listed below).
// Read with the TypeScript compiler's own parser, so comments and strings cannot fool it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

// src/index.ts is the package's entry ('windtunnel'): it re-exports the layers, so it sits above them
// all; src/lab/index.ts ('windtunnel/lab') likewise sits above the lab's wings.
const RANK: Record<string, number> = { base: 0, engine: 1, models: 2, data: 2, training: 3, probes: 3, editing: 4, lab: 4, studies: 5, interfaces: 6, 'index.ts': 7 };
const LAB_WING_RANK: Record<string, number> = { results: 0, fit: 1, presentation: 2, experiments: 3, 'index.ts': 4 };

/** Cycles that are one unit by design: tensors, ops and autograd record each other; a tokenizer file names its BPE reader. */
const ALLOWED_CYCLES = [
  ['src/engine/autograd.ts', 'src/engine/gradients.ts', 'src/engine/ops.ts', 'src/engine/tensor.ts'],
  ['src/data/bpe.ts', 'src/data/tokenizer.ts'],
];

function sources(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Edge { from: string; to: string; line: number }

function imports(file: string): { edges: Edge[]; hidden: number[] } {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const edges: Edge[] = [], hidden: number[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
  const add = (spec: string, node: ts.Node) => {
    if (!spec.startsWith('.')) return;
    edges.push({ from: file, to: relative('.', resolve(dirname(file), spec)).replace(/\.js$/, '.ts'), line: lineOf(node) });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier.text, node);
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) add(arg.text, node);
      else hidden.push(lineOf(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { edges, hidden };
}

const files = sources('src');
const all = files.map((f) => ({ file: f, ...imports(f) }));
const edges = all.flatMap((x) => x.edges);
const parts = (f: string) => f.split('/'); // ['src', layer, ...]

test('the source tree has the layers the rule names, and nothing else', () => {
  const layers = new Set(files.map((f) => parts(f)[1]));
  assert.deepEqual([...layers].sort(), Object.keys(RANK).sort());
  const wings = new Set(files.filter((f) => parts(f)[1] === 'lab').map((f) => parts(f)[2]));
  assert.deepEqual([...wings].sort(), Object.keys(LAB_WING_RANK).sort(), 'src/lab holds only its wings');
});

test('every import points down the layers (none up, none sideways)', () => {
  const bad = edges.filter((e) => {
    const a = parts(e.from)[1], b = parts(e.to)[1];
    return a !== b && !(RANK[b] < RANK[a]);
  });
  assert.deepEqual(bad.map((e) => `${e.from}:${e.line} imports ${e.to}`), []);
});

test('inside the lab, experiments build on presentation, presentation on fit, and all on results, never the other way', () => {
  const bad = edges.filter((e) => {
    if (parts(e.from)[1] !== 'lab' || parts(e.to)[1] !== 'lab') return false;
    const a = parts(e.from)[2], b = parts(e.to)[2];
    return a !== b && !(LAB_WING_RANK[b] < LAB_WING_RANK[a]);
  });
  assert.deepEqual(bad.map((e) => `${e.from}:${e.line} imports ${e.to}`), []);
});

test('no import is hidden from the type checker (dynamic imports name their module literally)', () => {
  assert.deepEqual(all.filter((x) => x.hidden.length).map((x) => `${x.file}:${x.hidden.join(',')}`), []);
});

test('every relative import names a file that exists', () => {
  const known = new Set(files);
  assert.deepEqual(edges.filter((e) => !known.has(e.to)).map((e) => `${e.from}:${e.line} imports ${e.to}`), []);
});

test('no import cycles between files, except the two units listed', () => {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components: each component of more than one file is a cycle.
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) { connect(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      for (let w = ''; w !== v;) { w = stack.pop()!; on.delete(w); comp.push(w); }
      if (comp.length > 1) cycles.push(comp.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) connect(f);
  const allowed = new Set(ALLOWED_CYCLES.map((c) => c.join(' ')));
  assert.deepEqual(cycles.map((c) => c.join(' ')).filter((c) => !allowed.has(c)), []);
});
