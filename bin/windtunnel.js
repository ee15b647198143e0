#!/usr/bin/env node
// Entry point for `npx windtunnel`: runs the compiled JavaScript in dist/ (built by
// `npm run build`, scripts/setup.sh and npm's `prepare`). When dist/ is missing, or older than
// a source file beside it (a checkout being edited), it says so and runs the TypeScript in
// src/ through tsx instead: correct, but seconds slower to start.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'interfaces', 'main.js');
const stamp = join(root, 'dist', '.build-stamp'); // written last by scripts/build.mjs

/** The newest modification time under dir (0 when dir is absent, as in an installed package). */
function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const t = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function whyNotCompiled() {
  if (!existsSync(compiled) || !existsSync(stamp)) return 'dist/ is not built';
  if (newestMtime(join(root, 'src')) > statSync(stamp).mtimeMs) return 'dist/ is older than src/';
  return null;
}

const why = whyNotCompiled();
if (why === null) {
  await import(pathToFileURL(compiled).href);
} else {
  // Tests run the working tree's source on purpose (scripts/run-tests.mjs sets this).
  if (!process.env.WINDTUNNEL_QUIET_BUILD) {
    process.stderr.write(`windtunnel: ${why}; running the TypeScript through tsx (slow start). Build with: npm run build\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'interfaces', 'main.ts')).href);
}
