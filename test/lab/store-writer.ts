// Child process for the store concurrency test: opens the same store file as its siblings and
// writes the same sweep, runs and metrics, each batch twice (a re-delivered job), as fast as it can.
// argv: <db> <writer index> <runs> <steps>; prints {"claimed": [run ids]} on stdout.
import { Store } from '../../src/lab/results/store.js';

const [db, who, nRuns, nSteps] = process.argv.slice(2);
const store = Store.open(db);
const runs = Array.from({ length: Number(nRuns) }, (_, i) => ({ id: `run${i}`, name: `r${i}`, config: { i }, index: i, tags: ['conc'] }));
store.saveSweep({ name: 'conc', spec: {}, tags: ['conc'] });
store.addRuns('conc', runs);
const claimed = runs.filter((r) => store.claim(r.id, `writer${who}`)).map((r) => r.id);
for (let s0 = 0; s0 < Number(nSteps); s0 += 10) {
  for (const r of runs) {
    const rows = Array.from({ length: 10 }, (_, k) => ({ step: s0 + k, values: { loss: 1 / (s0 + k + 1), lr: 0.001 } }));
    store.logMetrics(r.id, rows);
    store.logMetrics(r.id, rows);
    store.logEvals(r.id, [{ step: s0, split: 'val', values: { loss: 2 / (s0 + 1) } }]);
  }
}
for (const id of claimed) store.finish(id);
store.close();
process.stdout.write(JSON.stringify({ claimed }) + '\n');
