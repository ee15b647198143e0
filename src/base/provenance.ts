// Where a result came from: the package version and the git commit of the source tree that
// produced it (when the package lives in a git checkout). Study verdicts record it so that
// STUDIES.md can say which commit each verdict was last reached at.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Provenance {
  version: string;
  /** HEAD of the checkout, or null outside a git checkout (an installed package). */
  commit: string | null;
  /** Tracked files differ from HEAD (the result is not exactly reproducible from the commit). */
  dirty: boolean;
}

// src/base/ and dist/base/ both sit two folders below the package root.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

let cached: Provenance | undefined;

export function provenance(): Provenance {
  if (cached) return cached;
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const git = (args: string[]): string | null => {
    try {
      return execFileSync('git', args, { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  const status = commit === null ? null : git(['status', '--porcelain', '--untracked-files=no']);
  cached = { version, commit, dirty: status !== null && status.length > 0 };
  return cached;
}
