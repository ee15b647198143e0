// Which documents of a corpus are held out for validation: a hash of the document id, so the
// split is stable and each document's side does not depend on the others. Its own file because the
// Brown evaluation tasks (evals/) split by document too and corpora.ts loads those tasks.

import { createHash } from 'node:crypto';

export interface SplitOptions {
  /** Expected fraction of documents in validation (default 0.1). */
  validFraction?: number;
  /** Changing the salt draws a different (still deterministic) split. */
  salt?: string;
}

export const DEFAULT_SPLIT: Required<SplitOptions> = { validFraction: 0.1, salt: 'windtunnel-split-v1' };

/** Whether a document goes to validation: a hash of (salt, id), so it is stable and independent of other docs. */
export function isValidationDoc(id: string, opts: SplitOptions = {}): boolean {
  const { validFraction, salt } = { ...DEFAULT_SPLIT, ...opts };
  if (!(validFraction >= 0 && validFraction <= 1)) throw new Error(`validFraction must be in [0, 1], got ${validFraction}`);
  const h = createHash('sha256').update(salt).update('\0').update(id).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < validFraction;
}
