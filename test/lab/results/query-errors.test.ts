// Run filters that cannot mean what the user wrote are errors, not silently empty (or full)
// results: a key that no run has (`optim.lr` where the key is `lr`), text compared by order with
// a number (`lr<=abc`), or a value whose type no run's value has. The help and the dashboard's
// placeholder show the real key.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../src/lab/results/store.js';
import { QueryError, parseCondition, queryRuns } from '../../../src/lab/results/query.js';

const tempDirs: string[] = [];
const tempDir = (): string => { const d = mkdtempSync(join(tmpdir(), 'wt-qerr-')); tempDirs.push(d); return d; };
after(() => { for (const d of tempDirs) rmSync(d, { recursive: true, force: true }); });

/** Runs keyed as `windtunnel train` configs are: lr at the top, schedule.kind as text. */
function fixture(): { store: Store; db: string } {
  const db = join(tempDir(), 'windtunnel.db');
  const store = Store.open(db);
  store.saveSweep({ name: 's', spec: { name: 's' } });
  store.addRuns('s', [1e-3, 3e-3].map((lr, i) => ({ id: `r${i}`, name: `lr=${lr}`, index: i, config: { lr, model: { dModel: 64 }, schedule: { kind: 'wsd' }, ...(i === 0 ? { warmup: 10 } : {}) } })));
  for (const id of ['r0', 'r1']) { store.claim(id, 'w'); store.logMetrics(id, [{ step: 5, values: { loss: id === 'r0' ? 3 : 2.5 } }]); store.finish(id); }
  return { store, db };
}

const where = (store: Store, ...conds: string[]) => queryRuns(store, { where: conds.map(parseCondition) }).map((r) => r.id);
const final = (store: Store, ...conds: string[]) => queryRuns(store, { final: conds.map(parseCondition) }).map((r) => r.id);

test('a condition on a key that no run has is an error naming the key (and the close match)', () => {
  const { store } = fixture();
  try {
    assert.throws(() => where(store, 'optim.lr<=3e-3'), (e: Error) => e instanceof QueryError && /no run has config key "optim\.lr"/.test(e.message) && /\blr\b/.test(e.message.split('optim.lr').pop()!));
    assert.throws(() => final(store, 'val_los<3'), (e: Error) => e instanceof QueryError && /no run has final metric "val_los"/.test(e.message));
    assert.deepEqual(where(store, 'lr<=1e-3'), ['r0']);
    assert.deepEqual(where(store, 'lr!=1e-3'), ['r1']);
    assert.deepEqual(where(store, 'warmup!=5'), ['r0', 'r1'], '!= keeps runs without the key, when some run has it');
    assert.deepEqual(where(store, 'warmup=null'), ['r1']);
    assert.deepEqual(final(store, 'loss<2.8'), ['r1']);
    assert.deepEqual(where(store, 'model.dModel=64', 'schedule.kind=wsd'), ['r0', 'r1']);
  } finally { store.close(); }
});

test('comparing a number with text is an error, not an empty or full result', () => {
  const { store } = fixture();
  try {
    for (const c of ['lr<=abc', 'lr>abc', 'lr=abc', 'lr!=abc', 'schedule.kind<3', 'schedule.kind=3', 'loss<abc']) {
      const run = () => (c.startsWith('loss') ? final(store, c) : where(store, c));
      assert.throws(run, (e: Error) => e instanceof QueryError && /number|text/.test(e.message), c);
    }
  } finally { store.close(); }
});

test('an empty store answers any filter with no runs', () => {
  const store = Store.open(join(tempDir(), 'empty.db'));
  try { assert.deepEqual(where(store, 'anything=1'), []); } finally { store.close(); }
});

test('runs list: a bad condition exits 2 with the message; the help shows the real key', () => {
  const { store, db } = fixture();
  store.close();
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/windtunnel.js', 'runs', 'list', '--db', db, ...args], { encoding: 'utf8' });
  const bad = cli('--where', 'optim.lr<=3e-3');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /no run has config key "optim\.lr"/);
  const text = cli('--where', 'lr<=abc');
  assert.equal(text.status, 2, text.stderr);
  const good = cli('--where', 'lr<=3e-3', '--json');
  assert.equal(good.status, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout).length, 2);
  const help = cli('--help').stdout;
  assert.match(help, /\blr<=3e-3/);
  assert.doesNotMatch(help, /optim\.lr/);
  const page = readFileSync('src/interfaces/ui/static/index.html', 'utf8');
  assert.doesNotMatch(page, /optim\.lr/);
  assert.match(page, /placeholder="lr<=3e-3/);
});
