import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FitInputError, filterPoints, parseCsv, parseCsvTable, parseJsonTable, readTable } from '../../../src/lab/fit/points.js';

const tempDirs: string[] = [];
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

test('CSV: quotes, CRLF, a BOM, blank lines and extra columns', () => {
  const text = '\ufeffrun,params,tokens,loss,note\r\n"a, b",1e6,2e7,3.5,"said ""hi"""\r\n\r\nc,2000000,40000000,3.1,"two\nlines"\r\n';
  assert.deepEqual(parseCsv(text).map((r) => r.line), [1, 2, 4]);
  const pts = parseCsvTable(text);
  assert.deepEqual(pts, [
    { params: 1e6, tokens: 2e7, loss: 3.5, run: 'a, b' },
    { params: 2e6, tokens: 4e7, loss: 3.1, run: 'c' },
  ]);
});

test('CSV errors name the row, its line and the column, every bad cell at once', () => {
  const text = 'params,tokens,loss,step\n1e6,2e7,3.5,10\n1e6,abc,3.4,20\n-5,2e7,,30\n1e6,2e7,3.3,1.5\n';
  assert.throws(() => parseCsvTable(text), (e: Error) => {
    assert.ok(e instanceof FitInputError);
    assert.match(e.message, /row 2 \(line 3\), column "tokens": expected a positive number, got "abc"/);
    assert.match(e.message, /row 3 \(line 4\), column "params": expected a positive number, got "-5"/);
    assert.match(e.message, /row 3 \(line 4\), column "loss": missing/);
    assert.match(e.message, /row 4 \(line 5\), column "step": expected a non-negative integer, got "1.5"/);
    return true;
  });
  assert.throws(() => parseCsvTable('params,loss\n1,2\n'), /missing column "tokens" \(the table has: params, loss\)/);
  assert.throws(() => parseCsvTable('params,tokens,loss\n1,2\n'), /CSV row 1 \(line 2\): 2 fields, but the header has 3/);
  assert.throws(() => parseCsvTable('params,tokens,loss\n"1,2,3\n'), /never closed/);
  assert.throws(() => parseCsvTable('N,D,L\n1,2,3\n'), /missing columns "params", "tokens", "loss"/);
  assert.deepEqual(parseCsvTable('N,D,L\n1,2,3\n', { params: 'N', tokens: 'D', loss: 'L' }), [{ params: 1, tokens: 2, loss: 3 }]);
});

test('JSON: an array of objects, numbers or numeric strings; errors name the row and column', () => {
  assert.deepEqual(parseJsonTable('[{"params": 1e6, "tokens": "2e7", "loss": 3.5, "flops": 1.2e14, "other": [1]}]'),
    [{ params: 1e6, tokens: 2e7, loss: 3.5, flops: 1.2e14 }]);
  assert.throws(() => parseJsonTable('[{"params": 1, "tokens": 2, "loss": 3}, {"params": 1, "tokens": true, "loss": null}, 5]'), (e: Error) => {
    assert.match(e.message, /row 2 \(index 1\), column "tokens": expected a positive number, got true/);
    assert.match(e.message, /row 2 \(index 1\), column "loss": missing/);
    assert.match(e.message, /row 3 \(index 2\): expected an object/);
    return true;
  });
  assert.throws(() => parseJsonTable('{"params": 1}'), /expected an array of objects/);
  assert.throws(() => parseJsonTable('[1,'), { name: 'FitInputError', message: /^JSON: / });
});

test('readTable picks the format from the extension or the content and names the file in errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wt-fit-points-'));
  tempDirs.push(dir);
  writeFileSync(join(dir, 't.json'), '[{"params": 1, "tokens": 2, "loss": 3}]');
  writeFileSync(join(dir, 't.txt'), '[{"params": 1, "tokens": 2, "loss": 3}]');
  writeFileSync(join(dir, 'bad.csv'), 'params,tokens,loss\n1,2,x\n');
  assert.equal(readTable(join(dir, 't.json')).length, 1);
  assert.equal(readTable(join(dir, 't.txt')).length, 1);
  assert.throws(() => readTable(join(dir, 'bad.csv')), /bad\.csv: bad input table:\n {2}row 1 \(line 2\), column "loss"/);
  assert.throws(() => readTable(join(dir, 'none.csv')), /cannot read .*none\.csv: ENOENT/);
});

test('exclusions: warm-up steps and a minimum token count', () => {
  const pts = [10, 100, 200, 300].map((step) => ({ params: 1e6, tokens: step * 1000, loss: 3, step }));
  const { kept, notes } = filterPoints(pts, { excludeWarmupSteps: 100, minTokens: 250_000 });
  assert.deepEqual(kept.map((p) => p.step), [300]);
  assert.deepEqual(notes, ['2 point(s) at or before step 100 (warm-up) excluded', '1 point(s) with fewer than 250000 tokens excluded']);
  assert.throws(() => filterPoints([{ params: 1, tokens: 1, loss: 1 }], { excludeWarmupSteps: 5 }), /needs a step on every point/);
});
