// Side-by-side training throughput against the PyTorch peer, alternating runs in one sitting:
//   node scripts/bench-side-by-side.mjs [--rounds 5] [--configs tiny,small,medium,large]
// Each round runs every config once with PyTorch and once with windtunnel (order alternating
// per round), then prints the medians and the median of the per-round ratios.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const rounds = Number(arg('rounds', '5'));
const configs = arg('configs', 'tiny,small,medium,large').split(',');
const peer = arg('peer', '../shared/bench/torch_gpt_ref.py');
if (!existsSync(peer)) { console.error(`peer benchmark not found at ${peer} (use --peer PATH)`); process.exit(2); }

function runJson(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const rows = Object.fromEntries(configs.map((c) => [c, { torch: [], ours: [], ratio: [], torchRss: [], oursRss: [], oursLoss: [], torchLoss: [] }]));
for (let r = 0; r < rounds; r++) {
  for (const c of configs) {
    const order = r % 2 === 0 ? ['torch', 'ours'] : ['ours', 'torch'];
    const res = {};
    for (const who of order) {
      res[who] = who === 'torch'
        ? runJson('/usr/bin/python3', [peer, c])[0]
        : runJson(process.execPath, ['bin/windtunnel.js', 'bench', 'train', '--config', c, '--json'])[0];
    }
    const row = rows[c];
    row.torch.push(res.torch.tokens_per_s); row.ours.push(res.ours.tokens_per_s);
    row.ratio.push(res.ours.tokens_per_s / res.torch.tokens_per_s);
    row.torchRss.push(res.torch.peak_rss_mb); row.oursRss.push(res.ours.peak_rss_mb);
    row.torchLoss.push(res.torch.loss); row.oursLoss.push(res.ours.loss);
    console.error(`round ${r + 1} ${c}: torch ${res.torch.tokens_per_s.toFixed(0)} tok/s, ours ${res.ours.tokens_per_s.toFixed(0)} tok/s, ratio ${(res.ours.tokens_per_s / res.torch.tokens_per_s).toFixed(2)}`);
  }
}
console.log('| config | PyTorch tok/s (median) | windtunnel tok/s (median) | median ratio | ratio range | peak RSS MB PyTorch / ours |');
console.log('|---|---|---|---|---|---|');
for (const c of configs) {
  const x = rows[c];
  console.log(`| ${c} | ${median(x.torch).toFixed(0)} | ${median(x.ours).toFixed(0)} | **${median(x.ratio).toFixed(2)}x** | ${Math.min(...x.ratio).toFixed(2)}-${Math.max(...x.ratio).toFixed(2)} | ${median(x.torchRss).toFixed(0)} / ${median(x.oursRss).toFixed(0)} |`);
}
