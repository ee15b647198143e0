// Ctrl-C and SIGTERM for long-running commands and processes, one way everywhere: the first
// signal asks for a graceful stop (a trainer checkpoints, a sweep stops its runs), a second one
// quits at once with exit code 130.

export interface InterruptOptions {
  /** The graceful stop, on the first SIGINT/SIGTERM. */
  first: (signal: NodeJS.Signals) => void;
  /** Printed on stderr before quitting on the second signal. */
  quitMessage?: string;
  /** Runs before quitting on the second signal (e.g. stopping a progress bar). */
  beforeQuit?: () => void;
}

/** Installs the handlers; returns the function that removes them. */
export function onInterrupt(o: InterruptOptions): () => void {
  let n = 0;
  const handler = (signal: NodeJS.Signals): void => {
    if (++n === 1) {
      o.first(signal);
      return;
    }
    o.beforeQuit?.();
    if (o.quitMessage) process.stderr.write(`${o.quitMessage}\n`);
    process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** An AbortController aborted by the first Ctrl-C / SIGTERM (a second quits); `dispose` removes the handlers. */
export function abortOnInterrupt(quitMessage: string): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const dispose = onInterrupt({ first: () => controller.abort(), quitMessage });
  return { signal: controller.signal, dispose };
}
