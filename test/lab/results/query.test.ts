import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../src/lab/results/store.js';
import {
  compareRuns, findRun, flattenRun, jsonPath, listSweeps, metricSeries, evalSeries, parseCondition, queryRuns, runPoint, sweepSpec, toCsv, toJson,
} from '../../../src/lab/results/query.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-query-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

/** Six runs in two sweeps: lr x width, one failed, one with a string and a boolean in its config. */
function fixture(): Store {
  const s = Store.open(join(tempDir(), 'q.db'));
  s.saveSweep({ name: 'lr', spec: { name: 'lr', grid: {} }, tags: ['smoke'], file: 'lr.yaml' });
  s.saveSweep({ name: 'width', spec: { name: 'width' } });
  const cfg = (lr: number, d: number, kind = 'cosine', tied = true) => ({ optim: { lr }, model: { dModel: d, tiedEmbeddings: tied }, schedule: { kind } });
  s.addRuns('lr', [
    { id: 'aaa111', name: 'lr=0.001', config: cfg(0.001, 64), index: 0, tags: ['smoke', 'lr'], point: { 'optim.lr': 0.001, $tps: 512 } },
    { id: 'aaa222', name: 'lr=0.003', config: cfg(0.003, 64), index: 1, tags: ['smoke', 'lr'], params: 1000, tokens: 5e5, flops: 3e9 },
    { id: 'bbb333', name: 'lr=0.01', config: cfg(0.01, 64, 'wsd'), index: 2, tags: ['smoke'] },
  ]);
  s.addRuns('width', [
    { id: 'aaa222', name: 'd=64', config: cfg(0.003, 64), index: 0 },
    { id: 'ccc444', name: 'd=128', config: cfg(0.003, 128, 'cosine', false), index: 1, tags: ['wide'] },
  ]);
  const losses: Record<string, number> = { aaa111: 3.2, aaa222: 2.9, ccc444: 2.7 };
  for (const [id, loss] of Object.entries(losses)) {
    s.claim(id, 'w');
    s.logMetrics(id, [{ step: 0, values: { loss: 5, lr: 0 } }, { step: 10, values: { loss, lr: 0.001 } }]);
    s.logEvals(id, [{ step: 10, split: 'val', values: { loss: loss + 0.1 } }]);
    s.finish(id);
  }
  s.claim('bbb333', 'w');
  s.logMetrics('bbb333', [{ step: 0, values: { loss: 5 } }]);
  s.fail('bbb333', 'loss is NaN at step 3');
  return s;
}

const ids = (rs: { id: string }[]): string[] => rs.map((r) => r.id);

test('conditions parse numbers, booleans, null and text; json paths quote odd segments', () => {
  assert.deepEqual(parseCondition('model.dModel=128'), { path: 'model.dModel', op: '=', value: 128 });
  assert.deepEqual(parseCondition('optim.lr <= 3e-3'), { path: 'optim.lr', op: '<=', value: 0.003 });
  assert.deepEqual(parseCondition('schedule.kind!=wsd'), { path: 'schedule.kind', op: '!=', value: 'wsd' });
  assert.deepEqual(parseCondition('model.tiedEmbeddings==false'), { path: 'model.tiedEmbeddings', op: '=', value: false });
  assert.deepEqual(parseCondition('x=null'), { path: 'x', op: '=', value: null });
  assert.deepEqual(parseCondition('name="a b"'), { path: 'name', op: '=', value: 'a b' });
  assert.throws(() => parseCondition('just-a-key'), /KEY=VALUE/);
  assert.equal(jsonPath('model.dModel'), '$.model.dModel');
  assert.equal(jsonPath('a.b-c'), '$.a."b-c"');
});

test('filters: sweep (in sweep order), tag, status, config values, final-metric ranges, limit', () => {
  const s = fixture();
  try {
    assert.deepEqual(ids(queryRuns(s)), ['aaa111', 'aaa222', 'bbb333', 'ccc444']);
    assert.deepEqual(ids(queryRuns(s, { sweep: 'width' })), ['aaa222', 'ccc444']);
    assert.deepEqual(ids(queryRuns(s, { sweep: 'nope' })), []);
    assert.deepEqual(ids(queryRuns(s, { tags: ['smoke'] })), ['aaa111', 'aaa222', 'bbb333']);
    assert.deepEqual(ids(queryRuns(s, { tags: ['smoke', 'lr'] })), ['aaa111', 'aaa222']);
    assert.deepEqual(ids(queryRuns(s, { status: ['failed'] })), ['bbb333']);
    assert.deepEqual(ids(queryRuns(s, { status: ['done', 'failed'], sweep: 'lr' })), ['aaa111', 'aaa222', 'bbb333']);
    const where = (...cs: string[]) => ids(queryRuns(s, { where: cs.map(parseCondition) }));
    assert.deepEqual(where('model.dModel=128'), ['ccc444']);
    assert.deepEqual(where('optim.lr>=0.003', 'model.dModel<100'), ['aaa222', 'bbb333']);
    assert.deepEqual(where('schedule.kind=wsd'), ['bbb333']);
    assert.deepEqual(where('schedule.kind!=wsd'), ['aaa111', 'aaa222', 'ccc444']);
    assert.deepEqual(where('model.tiedEmbeddings=false'), ['ccc444']);
    assert.deepEqual(where('model.missing=null'), ['aaa111', 'aaa222', 'bbb333', 'ccc444']);
    assert.deepEqual(where('model.missing!=3'), ['aaa111', 'aaa222', 'bbb333', 'ccc444'], '!= keeps runs without the key');
    const final = (...cs: string[]) => ids(queryRuns(s, { final: cs.map(parseCondition) }));
    assert.deepEqual(final('loss<3'), ['aaa222', 'ccc444']);
    assert.deepEqual(final('loss>=2.8', 'loss<=3.2'), ['aaa111', 'aaa222']);
    assert.deepEqual(final('val_loss<2.9'), ['ccc444']);
    assert.deepEqual(ids(queryRuns(s, { sweep: 'lr', limit: 2 })), ['aaa111', 'aaa222']);
    assert.deepEqual(ids(queryRuns(s, { ids: ['ccc444', 'aaa111'] })), ['aaa111', 'ccc444']);
  } finally {
    s.close();
  }
});

test('run records carry config, tags, sweeps, estimate, final metrics and errors', () => {
  const s = fixture();
  try {
    const [r] = queryRuns(s, { ids: ['aaa222'] });
    assert.deepEqual(r.sweeps, ['lr', 'width']);
    assert.deepEqual(r.tags, ['lr', 'smoke']);
    assert.deepEqual(r.config, { optim: { lr: 0.003 }, model: { dModel: 64, tiedEmbeddings: true }, schedule: { kind: 'cosine' } });
    assert.deepEqual(r.final, { loss: 2.9, lr: 0.001, val_loss: 3, step: 10 });
    assert.equal(r.status, 'done');
    assert.equal(r.params, 1000);
    assert.equal(r.flops, 3e9);
    assert.match(r.finishedAt ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(queryRuns(s, { ids: ['bbb333'] })[0].error, 'loss is NaN at step 3');
    assert.deepEqual(runPoint(s, 'lr', 'aaa111'), { 'optim.lr': 0.001, $tps: 512 });
    assert.deepEqual(sweepSpec(s, 'lr'), { name: 'lr', grid: {} });
    assert.deepEqual(listSweeps(s).map((x) => [x.name, x.runs, x.byStatus]), [['lr', 3, { done: 2, failed: 1 }], ['width', 2, { done: 2 }]]);
  } finally {
    s.close();
  }
});

test('findRun by id, id prefix or name; ambiguity is an error listing the candidates', () => {
  const s = fixture();
  try {
    assert.equal(findRun(s, 'ccc444').id, 'ccc444');
    assert.equal(findRun(s, 'bbb').id, 'bbb333');
    assert.equal(findRun(s, 'lr=0.01').id, 'bbb333');
    assert.equal(findRun(s, 'd=128').id, 'ccc444', 'a name given by a later sweep finds the run too');
    assert.throws(() => findRun(s, 'aaa'), /matches several runs: aaa111 lr=0.001, aaa222 lr=0.003/);
    assert.throws(() => findRun(s, 'zzz'), /no run matches "zzz"/);
  } finally {
    s.close();
  }
});

test('metric and eval series, filtered by key and step, ordered by run, key, step', () => {
  const s = fixture();
  try {
    assert.deepEqual(metricSeries(s, { runs: ['aaa111', 'ccc444'], keys: ['loss'] }), [
      { run: 'aaa111', key: 'loss', step: 0, value: 5 }, { run: 'aaa111', key: 'loss', step: 10, value: 3.2 },
      { run: 'ccc444', key: 'loss', step: 0, value: 5 }, { run: 'ccc444', key: 'loss', step: 10, value: 2.7 },
    ]);
    assert.equal(metricSeries(s, { runs: ['aaa111'] }).length, 4);
    assert.deepEqual(metricSeries(s, { runs: ['aaa111'], fromStep: 5 }).map((p) => p.key), ['loss', 'lr']);
    assert.deepEqual(evalSeries(s, { runs: ['aaa111'], split: 'val' }), [{ run: 'aaa111', split: 'val', key: 'loss', step: 10, value: 3.3000000000000003 }]);
  } finally {
    s.close();
  }
});

test('compare shows only the config keys that differ, and final metrics side by side', () => {
  const s = fixture();
  try {
    const c = compareRuns(queryRuns(s, { sweep: 'width' }));
    assert.deepEqual(c.runs.map((r) => r.id), ['aaa222', 'ccc444']);
    assert.deepEqual(c.config, { 'model.dModel': [64, 128], 'model.tiedEmbeddings': [true, false] });
    assert.deepEqual(c.final.loss, [2.9, 2.7]);
    assert.deepEqual(c.final.val_loss, [3, 2.8000000000000003]);
  } finally {
    s.close();
  }
});

test('CSV export: flat columns, RFC 4180 quoting; JSON export round-trips', () => {
  const s = fixture();
  try {
    const rs = queryRuns(s, { sweep: 'lr' });
    const csv = toCsv(rs.map(flattenRun));
    const lines = csv.trimEnd().split('\n');
    const header = lines[0].split(',');
    assert.deepEqual(header.slice(0, 5), ['id', 'name', 'status', 'sweeps', 'tags']);
    assert.ok(header.includes('config.optim.lr') && header.includes('config.model.dModel') && header.includes('final.val_loss'));
    assert.equal(lines.length, 4);
    const row1 = lines[2].split(',');
    assert.equal(row1[header.indexOf('config.optim.lr')], '0.003');
    assert.equal(row1[header.indexOf('final.loss')], '2.9');
    assert.equal(row1[header.indexOf('sweeps')], 'lr;width');
    assert.equal(toCsv([{ a: 'x,y', b: 'say "hi"', c: null, d: { e: 1 }, f: 'line\nbreak' }]), 'a,b,c,d,f\n"x,y","say ""hi""",,"{""e"":1}","line\nbreak"\n');
    assert.equal(toCsv([{ a: 1, b: 2 }], ['b', 'zz']), 'b,zz\n2,\n');
    const back = JSON.parse(toJson(rs)) as typeof rs;
    assert.deepEqual(back, rs);
  } finally {
    s.close();
  }
});
