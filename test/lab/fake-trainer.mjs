#!/usr/bin/env node
// A stand-in for the training child process (src/training/child.ts) that keeps its contract
// (src/training/child-protocol.ts) and the run folder's layout, and nothing else, so runner
// tests are fast and do not depend on the real trainer:
//   train DIR     (the config is DIR/run-config.json)        resume DIR
// It writes what src/training writes: DIR/metrics.jsonl ({"type":"train"|"eval","step":s,...},
// steps counted from 1, lines past the resumed checkpoint dropped on resume) and checkpoints
// DIR/ckpt-<step>/ with DIR/latest naming the newest; and prints the protocol's messages
// ({"type":"start"|"progress"|"end",...}) on stdout.
// Config fields read (the configs are opaque to the lab: sweeps of them expand with validation off):
// steps, lr, seed, and fake:
//   stepMs (2)          time per step
//   checkpointEvery (5) steps between checkpoints (and eval lines)
//   failAt              exit 3 with an error on stderr when this step is reached
//   hangAt              stop making progress at this step (first attempt only; a resume goes on)
//   ignoreSigint        do not stop on SIGINT (the runner must SIGKILL it after its grace time)
// Each invocation appends "<mode> <first step> threads=<n>" to DIR/invocations.log.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [mode, dir] = process.argv.slice(2);
let configPath;
if (mode === 'train') configPath = join(dir, 'run-config.json');
else if (mode === 'resume') configPath = join(dir, 'config.json');
else {
  console.error(`fake trainer: unknown mode ${mode}`);
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
if (mode === 'train') writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
const fake = config.fake ?? {};
const steps = config.steps, stepMs = fake.stepMs ?? 2, every = fake.checkpointEvery ?? 5;
const metrics = join(dir, 'metrics.jsonl');

let done = 0;
if (mode === 'resume') {
  done = Number(/^ckpt-(\d+)$/.exec(readFileSync(join(dir, 'latest'), 'utf8').trim())[1]);
  const kept = existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').filter((l) => l && JSON.parse(l).step <= done) : [];
  writeFileSync(metrics, kept.map((l) => l + '\n').join(''));
} else {
  writeFileSync(metrics, '');
}
appendFileSync(join(dir, 'invocations.log'), `${mode} ${done + 1} threads=${process.env.WINDTUNNEL_THREADS}\n`);
process.stdout.write(JSON.stringify({ type: 'start', mode, step: done, totalSteps: steps }) + '\n');

const lossAt = (s) => 4 * Math.exp(-s * config.lr) + 0.01 * (config.seed ?? 0);
function checkpoint() {
  if (done === 0) return;
  mkdirSync(join(dir, `ckpt-${done}`), { recursive: true });
  writeFileSync(join(dir, 'latest.tmp'), `ckpt-${done}\n`);
  renameSync(join(dir, 'latest.tmp'), join(dir, 'latest'));
}

process.on('SIGINT', () => {
  if (fake.ignoreSigint) return;
  checkpoint();
  process.exit(130);
});

function tick() {
  const step = done + 1;
  if (step > steps) {
    checkpoint();
    process.stdout.write(JSON.stringify({ type: 'end', status: 'completed', step: done }) + '\n');
    process.exit(0);
  }
  if (fake.failAt === step) {
    process.stderr.write(`fake trainer: some log line\nfake trainer: loss is NaN at step ${step}\n`);
    process.exit(3);
  }
  if (fake.hangAt === step && mode === 'train') {
    setInterval(() => {}, 1000);
    return;
  }
  appendFileSync(metrics, JSON.stringify({ type: 'train', step, loss: lossAt(step), lr: config.lr, clipped: step % 2 === 0 }) + '\n');
  done = step;
  if (step % every === 0) {
    appendFileSync(metrics, JSON.stringify({ type: 'eval', step, loss: lossAt(step) + 0.1, perplexity: Math.exp(lossAt(step) + 0.1) }) + '\n');
    checkpoint();
  }
  process.stdout.write(JSON.stringify({ type: 'progress', step, totalSteps: steps, loss: lossAt(step) }) + '\n');
  setTimeout(tick, stepMs);
}
tick();
