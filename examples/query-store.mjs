// Query the results store that `windtunnel sweep` and `windtunnel study` fill.
//   node examples/query-store.mjs [runs/windtunnel.db]
import { lab } from 'windtunnel';

const store = lab.Store.open(process.argv[2] ?? 'runs/windtunnel.db', { readonly: true });
try {
  for (const s of lab.listSweeps(store)) console.log(`sweep ${s.name}`);
  const done = lab.queryRuns(store, { status: ['done'], limit: 5 });
  console.log(`first ${done.length} finished runs:`);
  for (const r of done) {
    const loss = lab.metricSeries(store, { runs: [r.id], keys: ['loss'] });
    console.log(`  ${r.name}: ${loss.length} loss points, last ${loss.at(-1)?.value}`);
  }
} finally {
  store.close();
}
