// windtunnel as a dependency: a scratch project elsewhere installs it from this folder (npm,
// offline), imports it by name, type-checks against its declarations, trains a tiny model and
// samples from it, through the package's `exports` and the compiled dist/, as a user would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, WINDTUNNEL_QUIET_BUILD: '' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** The dist/ the package exports must be built from the source under test. */
function ensureBuilt(): void {
  const stale = spawnSync('find', ['src', '-newer', 'dist/.build-stamp', '-type', 'f'], { cwd: root, encoding: 'utf8' });
  if (!existsSync(join(root, 'dist', '.build-stamp')) || stale.stdout.trim() !== '') run(process.execPath, ['scripts/build.mjs'], root);
}

test('a scratch project installs windtunnel from a local path, imports it, trains and samples', { timeout: 240_000 }, () => {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'windtunnel-scratch-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', root], dir);
    assert.equal(realpathSync(join(dir, 'node_modules', 'windtunnel')), realpathSync(root));

    // Types: the declarations resolve through `exports` for a NodeNext TypeScript project.
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['check.ts'],
    }));
    writeFileSync(join(dir, 'check.ts'), [
      "import { trainRun, generate, type TrainRunResult, type Tensor } from 'windtunnel';",
      "import { Store } from 'windtunnel/lab';",
      "import { ByteTokenizer } from 'windtunnel/data';",
      'const r: Promise<TrainRunResult> = trainRun({}, { runDir: "x" });',
      'const t: (m: TrainRunResult["model"]) => Tensor = (m) => generate(m, [1], { maxNewTokens: 1 });',
      'const n: number = new ByteTokenizer().vocabSize;',
      'export { r, t, n, Store };',
      // A wrong call must fail, or the check above would pass against `any`.
      "// @ts-expect-error maxNewTokens is a number",
      'generate(null as unknown as TrainRunResult["model"], [1], { maxNewTokens: "2" });',
    ].join('\n'));
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);

    // Run the example script the README points to, from the scratch project.
    cpSync(join(root, 'examples', 'train-and-sample.mjs'), join(dir, 'main.mjs'));
    const out = run(process.execPath, ['main.mjs', join(dir, 'run')], dir).stdout;
    assert.match(out, /completed after 60 steps/);
    const losses = [...out.matchAll(/step (\d+)\/60 {2}loss ([\d.]+)/g)].map((m) => Number(m[2]));
    assert.equal(losses.length, 3);
    assert.ok(losses[2] < losses[0], `loss should fall: ${losses.join(', ')}`);
    const sample = /greedy sample: (".*")/.exec(out);
    assert.ok(sample, out);
    assert.ok((JSON.parse(sample[1]) as string).startsWith('the '), sample[1]);
    assert.ok(existsSync(join(dir, 'run', 'latest')));
    assert.ok(readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').split('\n').length > 10);

    // The compiled modules were used, not the TypeScript source.
    const resolved = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('windtunnel'))"], dir).stdout.trim();
    assert.match(resolved, /\/dist\/index\.js$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
