// The run commands end to end, as a user (or the lab runner) calls them: `node bin/windtunnel.js`
// in a child process, on configs/tiny-smoke.json shrunk further with --set, token caches in a
// temporary folder. Checks exit codes, the run folder, Ctrl-C + resume against an uninterrupted
// run (bitwise), sampling determinism, export names, eval numbers and WSD branching.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../src/models/safetensors.js';
import { readMetrics } from '../../src/training/metrics.js';
import { listCheckpoints, latestStep } from '../../src/training/checkpoint.js';
import { resolveRunConfig } from '../../src/training/assemble.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'windtunnel.js');
const smoke = join(root, 'configs', 'tiny-smoke.json');
let tmp = '';
let common: string[] = [];

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wt-cli-'));
  // Smaller than the smoke config, so each run takes a second or two.
  common = ['--set', `data.cacheDir=${join(tmp, 'cache')}`, '--set', 'batchSize=4', '--set', 'context=32', '--set', 'evalBatches=2'];
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, WINDTUNNEL_QUIET_FALLBACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(child: ChildProcess): Promise<Result> {
  let stdout = '', stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
}

const cli = (...args: string[]) => finished(start(args));
const train = (dir: string, ...sets: string[]) => cli('train', '--config', smoke, '--run-dir', dir, ...common, ...sets.flatMap((s) => ['--set', s]));
const trainLosses = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).filter((l) => l.type === 'train').map((l) => [l.step, l.loss]);
const evalLosses = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).filter((l) => l.type === 'eval').map((l) => [l.step, l.loss]);

function ok(r: Result, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
}

test('a bad config key or value exits 2 before anything runs, naming it', async () => {
  const dir = join(tmp, 'bad');
  const r = await cli('train', '--config', smoke, '--run-dir', dir, ...common, '--set', 'model.nLayers=2', '--set', 'data.sampler.kind=shuffle', '--set', 'lr=-1');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /model\.nLayers: unknown key/);
  assert.match(r.stderr, /data\.sampler\.kind/);
  assert.match(r.stderr, /\blr: /);
  assert.equal(existsSync(dir), false, 'nothing may be written for an invalid config');

  const preset = await cli('train', '--config', smoke, '--run-dir', dir, ...common, '--set', 'model.preset=gpt5');
  assert.equal(preset.code, 2);
  assert.match(preset.stderr, /model\.preset: unknown preset "gpt5"/);

  const file = join(tmp, 'broken.json');
  writeFileSync(file, '{ "model": ');
  const broken = await cli('train', '--config', file);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /not valid JSON/);

  const flag = await cli('train', '--config', smoke, '--no-such-flag');
  assert.equal(flag.code, 2);
});

test('train writes the run folder: resolved config, tokenizer, metrics, checkpoints; JSON progress on stdout', async () => {
  const dir = join(tmp, 'run');
  const r = await cli('train', '--config', smoke, '--run-dir', dir, ...common, '--set', 'steps=12', '--set', 'checkpointInterval=5',
    '--set', 'data.tokenizer={"kind":"bpe","vocabSize":300}', '--set', 'data.sampler={"kind":"packing","keepInDocument":true}', '--json-progress');
  ok(r, 'train');
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const l of lines) assert.ok(typeof l.step === 'number' && typeof l.totalSteps === 'number' && typeof l.event === 'string', JSON.stringify(l));
  assert.deepEqual(lines.filter((l) => l.event === 'step').map((l) => l.step), Array.from({ length: 12 }, (_, i) => i + 1));
  assert.equal(lines.at(-1)!.event, 'end');
  assert.equal(lines.at(-1)!.status, 'completed');
  assert.ok(lines.some((l) => l.event === 'eval' && typeof l.bits_per_byte === 'number'));

  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.model.preset, undefined, 'config.json holds the resolved model, not the preset name');
  assert.equal(config.model.vocabSize, 300);
  assert.equal(config.model.positions, 'learned');
  assert.deepEqual(resolveRunConfig(config), config, 'a resolved config resolves to itself');
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  assert.equal(tok.kind, 'bpe');
  assert.ok(tok.vocabSize <= 300);
  assert.equal(trainLosses(dir).length, 12);
  assert.deepEqual(listCheckpoints(dir), [5, 10, 12]);
  assert.equal(latestStep(dir), 12);

  const again = await train(dir, 'steps=12');
  assert.equal(again.code, 2, 'training into a run folder that has checkpoints is refused');
  assert.match(again.stderr, /windtunnel resume/);
});

test('Ctrl-C writes a final checkpoint; resume finishes with the losses of an uninterrupted run, bit for bit', async () => {
  const steps = 150;
  const straight = join(tmp, 'straight'), stopped = join(tmp, 'stopped');
  ok(await train(straight, `steps=${steps}`), 'uninterrupted run');

  const child = start(['train', '--config', smoke, '--run-dir', stopped, ...common, '--set', `steps=${steps}`, '--json-progress']);
  let sent = false;
  child.stdout!.on('data', (d: Buffer) => {
    if (!sent && /"event":"step","step":([5-9]|\d\d)/.test(d.toString())) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const r = await finished(child);
  assert.ok(sent, 'the run ended before it could be interrupted');
  assert.equal(r.code, 130, r.stderr);
  const end = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { event: string; status: string; step: number; lastCheckpoint: number };
  assert.equal(end.status, 'stopped');
  assert.ok(end.step < steps, `stopped at ${end.step}`);
  assert.equal(latestStep(stopped), end.step, 'the final checkpoint is the step it stopped at');

  ok(await cli('resume', stopped), 'resume');
  assert.equal(latestStep(stopped), steps);
  assert.deepEqual(trainLosses(stopped), trainLosses(straight));
  assert.deepEqual(evalLosses(stopped), evalLosses(straight));

  const done = await cli('resume', stopped);
  ok(done, 'resuming a finished run');
  assert.match(done.stdout, /already complete/);
});

test('sample is deterministic for a seed; eval prints loss, perplexity and bits per byte', async () => {
  const dir = join(tmp, 'straight');
  if (!existsSync(dir)) ok(await train(dir, 'steps=30'), 'train');
  const a = await cli('sample', dir, '--prompt', 'The jury', '--max-tokens', '40', '--seed', '7');
  const b = await cli('sample', dir, '--prompt', 'The jury', '--max-tokens', '40', '--seed', '7');
  const c = await cli('sample', dir, '--prompt', 'The jury', '--max-tokens', '40', '--seed', '8', '--json');
  ok(a, 'sample');
  assert.ok(a.stdout.startsWith('The jury'));
  assert.equal(a.stdout, b.stdout);
  const j = JSON.parse(c.stdout) as { text: string; tokens: number };
  assert.ok(j.text.startsWith('The jury') && j.tokens > 0);
  assert.notEqual(j.text + '\n', a.stdout, 'another seed, another text');

  ok(await cli('sample', dir, '--max-tokens', '10'), 'sample without a prompt (a new document)');

  const early = await cli('sample', dir, '--prompt', 'The', '--checkpoint', '999');
  assert.notEqual(early.code, 0);
  assert.match(early.stderr, /ckpt-999 does not exist/);

  const e = await cli('eval', dir);
  ok(e, 'eval');
  assert.match(e.stdout, /loss\s+\d+\.\d+/);
  assert.match(e.stdout, /perplexity\s+\d+\.\d+/);
  assert.match(e.stdout, /bits\/byte\s+\d+\.\d+/);
  const ej = JSON.parse((await cli('eval', dir, '--json', '--batches', '3')).stdout) as { loss: number; perplexity: number; bits_per_byte: number; batches: number };
  assert.ok(Number.isFinite(ej.loss) && ej.loss > 0);
  assert.ok(Math.abs(ej.perplexity - Math.exp(ej.loss)) < 1e-9 * ej.perplexity);
  assert.ok(ej.bits_per_byte > 0);
  assert.equal(ej.batches, 3);
});

test('export writes Hugging Face names and config; refuses the wrong family', async () => {
  const gpt = join(tmp, 'straight');
  if (!existsSync(gpt)) ok(await train(gpt, 'steps=30'), 'train');
  const out = join(tmp, 'hf-gpt2');
  ok(await cli('export', gpt, '--format', 'hf-gpt2', '--out', out), 'export gpt2');
  const names = [...readSafetensors(join(out, 'model.safetensors')).tensors.keys()];
  for (const n of ['wte.weight', 'wpe.weight', 'h.0.attn.c_attn.weight', 'h.1.mlp.c_proj.bias', 'ln_f.weight']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 'gpt2');
  assert.equal(cfg.n_layer, 2);
  // The byte tokenizer's <|endoftext|> is id 256: bos/eos must say so (HF would otherwise assume 50256).
  assert.equal(cfg.bos_token_id, 256);
  assert.equal(cfg.eos_token_id, 256);
  assert.equal(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')).eos_token_id, 256);
  const tokJson = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8'));
  assert.equal(tokJson.model.type, 'BPE');
  assert.deepEqual(tokJson.added_tokens.map((t: { id: number; content: string }) => [t.id, t.content]), [[256, '<|endoftext|>']]);
  assert.equal(JSON.parse(readFileSync(join(out, 'special_tokens_map.json'), 'utf8')).eos_token, '<|endoftext|>');
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).tokenizer_class, 'PreTrainedTokenizerFast');

  // The HF folder stands in for the run: same greedy text, same validation loss.
  const greedy = ['--prompt', 'The jury', '--temperature', '0', '--max-tokens', '24', '--json'];
  const fromRun = JSON.parse((await cli('sample', gpt, ...greedy)).stdout) as { text: string };
  const fromHF = await cli('sample', out, ...greedy);
  ok(fromHF, 'sample from the HF folder');
  assert.equal((JSON.parse(fromHF.stdout) as { text: string }).text, fromRun.text);
  const evalConfig = join(tmp, 'eval-config.json');
  const smokeCfg = JSON.parse(readFileSync(smoke, 'utf8'));
  writeFileSync(evalConfig, JSON.stringify({ ...smokeCfg, batchSize: 4, context: 32, data: { ...smokeCfg.data, cacheDir: join(tmp, 'cache') } }));
  const noConfig = await cli('eval', out, '--json');
  assert.equal(noConfig.code, 2);
  assert.match(noConfig.stderr, /Hugging Face folder: give --config FILE/);
  const evRun = JSON.parse((await cli('eval', gpt, '--json', '--batches', '3')).stdout) as { loss: number };
  const evHF = await cli('eval', out, '--config', evalConfig, '--json', '--batches', '3');
  ok(evHF, 'eval the HF folder');
  const hfLoss = (JSON.parse(evHF.stdout) as { loss: number }).loss;
  assert.ok(Math.abs(hfLoss - evRun.loss) < 1e-5, `HF folder loss ${hfLoss} vs run ${evRun.loss}`);

  const wrong = await cli('export', gpt, '--format', 'hf-llama', '--out', join(tmp, 'nope'));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /does not fit the Hugging Face llama format/);
  assert.match(wrong.stderr, /--format hf-gpt2/);

  const llama = join(tmp, 'llama');
  ok(await train(llama, 'steps=6', 'model.preset=llama'), 'train llama');
  const lout = join(tmp, 'hf-llama');
  ok(await cli('export', llama, '--format', 'hf-llama', '--out', lout), 'export llama');
  const lnames = [...readSafetensors(join(lout, 'model.safetensors')).tensors.keys()];
  for (const n of ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.gate_proj.weight', 'model.norm.weight', 'lm_head.weight']) {
    assert.ok(lnames.includes(n), `${n} in ${lnames.join(', ')}`);
  }
  assert.equal(JSON.parse(readFileSync(join(lout, 'config.json'), 'utf8')).model_type, 'llama');
});

test('train init fine-tunes from a Hugging Face folder or a run: first losses start where the source ended', async () => {
  const gpt = join(tmp, 'straight'), hf = join(tmp, 'hf-gpt2');
  assert.ok(existsSync(join(hf, 'model.safetensors')), 'the export test made the HF folder');
  const smokeCfg = JSON.parse(readFileSync(smoke, 'utf8'));
  const { model: _model, ...noModel } = smokeCfg;
  const firstLoss = (dir: string) => trainLosses(dir)[0][1];
  const cfgFile = (name: string, extra: object) => {
    const f = join(tmp, `${name}.json`);
    writeFileSync(f, JSON.stringify({ ...noModel, ...extra }));
    return f;
  };
  const run = (file: string, dir: string) => cli('train', '--config', file, '--run-dir', dir, ...common, '--set', 'steps=6');

  const fromHF = join(tmp, 'ft-hf');
  ok(await run(cfgFile('ft-hf', { init: { from: 'hf', path: hf } }), fromHF), 'fine-tune from HF');
  const fromRun = join(tmp, 'ft-run');
  ok(await run(cfgFile('ft-run', { model: smokeCfg.model, init: { from: 'run', path: gpt } }), fromRun), 'fine-tune from a run');
  const fresh = join(tmp, 'ft-fresh');
  ok(await train(fresh, 'steps=6'), 'fresh');
  const src = trainLosses(gpt).at(-1)![1];
  for (const dir of [fromHF, fromRun]) {
    assert.ok(firstLoss(dir) < firstLoss(fresh) - 1, `${dir}: first loss ${firstLoss(dir)} vs fresh ${firstLoss(fresh)}`);
    assert.ok(Math.abs(firstLoss(dir) - src) < 0.5, `${dir}: first loss ${firstLoss(dir)} vs the source's last ${src}`);
  }
  // Same weights, same data and seed: the two sources give the same first loss.
  assert.ok(Math.abs(firstLoss(fromHF) - firstLoss(fromRun)) < 1e-4);

  const wrongKind = await run(cfgFile('ft-bad', { init: { from: 'run', path: hf } }), join(tmp, 'ft-bad'));
  assert.equal(wrongKind.code, 2, wrongKind.stderr);
  assert.match(wrongKind.stderr, /init\.path: .*is a Hugging Face folder; say init\.from "hf"/);
  const wrongShape = await run(cfgFile('ft-shape', { model: { ...smokeCfg.model, dModel: 48 }, init: { from: 'hf', path: hf } }), join(tmp, 'ft-shape'));
  assert.notEqual(wrongShape.code, 0);
  assert.match(wrongShape.stderr, /wte\.weight|shape|expected/);
});

test('branch decays a WSD run from a stable checkpoint; resuming the branch equals a fresh run of that length', async () => {
  const src = join(tmp, 'wsd'), branch = join(tmp, 'wsd-branch'), fresh = join(tmp, 'wsd-fresh');
  const wsd = (decay: string) => `schedule={"kind":"wsd","warmupSteps":2,${decay},"decayShape":"linear"}`;
  ok(await train(src, 'steps=30', wsd('"decayFraction":0.2'), 'checkpointInterval=10', 'keepCheckpoints=0'), 'train wsd');
  const b = await cli('branch', src, '--step', '10', '--decay-steps', '6', '--out', branch);
  ok(b, 'branch');
  assert.match(b.stdout, /windtunnel resume/);
  ok(await cli('resume', branch), 'resume branch');
  assert.equal(latestStep(branch), 16);
  ok(await train(fresh, 'steps=16', wsd('"decaySteps":6'), 'checkpointInterval=10', 'keepCheckpoints=0'), 'fresh run');
  assert.deepEqual(trainLosses(branch), trainLosses(fresh));
  assert.deepEqual(listCheckpoints(src), [10, 20, 30], 'the source run is untouched');

  const cos = await cli('branch', join(tmp, 'straight'), '--step', '10', '--decay-steps', '5', '--out', join(tmp, 'no-branch'));
  assert.notEqual(cos.code, 0);
  assert.match(cos.stderr, /needs a WSD run|does not exist/);
});

test('a NaN stops the run with the trainer\'s message and exit code 3', async () => {
  const r = await train(join(tmp, 'nan'), 'steps=50', 'lr=1e30', 'clip=0', 'schedule={"kind":"constant"}');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /(loss|gradient norm) is (NaN|Infinity|-Infinity) at step \d+/);
});

test('a YAML config file works like JSON', async () => {
  const file = join(tmp, 'tiny.yaml');
  const c = JSON.parse(readFileSync(smoke, 'utf8'));
  writeFileSync(file, [
    'model: { preset: llama, dModel: 32, nLayer: 1, nHead: 2 }',
    `data: { corpus: { kind: brown, categories: [news] }, tokenizer: { kind: byte } }`,
    `lr: ${c.lr}`, 'batchSize: 2', 'context: 16', 'steps: 2',
  ].join('\n'));
  const dir = join(tmp, 'yaml');
  ok(await cli('train', '--config', file, '--run-dir', dir, '--set', `data.cacheDir=${join(tmp, 'cache')}`), 'train from YAML');
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model.norm, 'rmsnorm');
});

test('a muP model (optimizer multipliers from its config) trains, keeps its base shapes in checkpoints and exports', async () => {
  const dir = join(tmp, 'mup');
  ok(await train(dir, 'steps=6', 'model.mup={"baseWidth":16}'), 'train muP');
  const state = JSON.parse(readFileSync(join(dir, 'ckpt-6', 'state.json'), 'utf8')) as { baseShapes?: Record<string, number[]> };
  assert.deepEqual(state.baseShapes?.['blocks.0.mlp.fc.weight'], [64, 16]);
  ok(await cli('export', dir, '--format', 'hf-gpt2', '--out', join(tmp, 'hf-mup')), 'export muP');
});
