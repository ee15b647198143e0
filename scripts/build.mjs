// Compiles src/ to dist/ (JavaScript, declarations, source maps) for the package's `exports`
// and the fast CLI, copies the dashboard's static files beside the compiled server, and
// writes dist/.build-stamp last, which bin/windtunnel.js compares with src/ to detect a stale build.
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
if (existsSync(stamp)) rmSync(stamp);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}
cpSync(join(root, 'src', 'interfaces', 'ui', 'static'), join(root, 'dist', 'interfaces', 'ui', 'static'), { recursive: true });
writeFileSync(stamp, `${new Date().toISOString()}\n`);
