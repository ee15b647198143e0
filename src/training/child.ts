// The training child process (the contract is child-protocol.ts): trains or resumes one run
// folder for the lab, reporting on stdout in ChildMessage lines and writing human messages to
// stderr. The same steps as `windtunnel train` and `windtunnel resume` (prepareRun), without the
// command line: the lab depends on this contract, not on the CLI's flags or output.

import { readConfigFile } from '../base/config-file.js';
import { EXIT, exitCodeFor } from '../base/errors.js';
import { onInterrupt } from '../base/interrupt.js';
import { prepareRun, resolveRunConfig } from './assemble.js';
import { encodeChildMessage, parseChildArgs, type ChildMessage } from './child-protocol.js';
import { RunFolder } from './run-folder.js';
import type { TrainResult } from './trainer.js';

const send = (m: ChildMessage): void => { process.stdout.write(encodeChildMessage(m)); };
const log = (message: string): void => { process.stderr.write(`${message}\n`); };

async function main(): Promise<number> {
  const { mode, runDir } = parseChildArgs(process.argv.slice(2));
  const folder = new RunFolder(runDir);
  const config = mode === 'train' ? resolveRunConfig(readConfigFile(folder.requestedConfigPath, 'run config')) : undefined;
  const run = prepareRun({
    runDir, config, log,
    onEvent: (e) => {
      if (e.type === 'start') send({ type: 'start', mode, step: e.step, totalSteps: e.totalSteps });
      else if (e.type === 'step') send({ type: 'progress', step: e.step, totalSteps: e.totalSteps, loss: e.loss });
    },
  });
  const removeInterrupt = onInterrupt({ first: () => run.trainer.requestStop(), quitMessage: 'quitting without a final checkpoint' });
  let result: TrainResult;
  try {
    result = await run.trainer.run();
  } finally {
    removeInterrupt();
    run.close();
  }
  const error = result.error?.message;
  send({ type: 'end', status: result.status, step: result.step, ...(error ? { error } : {}) });
  if (result.status === 'diverged') {
    log(`error: ${error ?? 'the loss became NaN/Inf'}`);
    return EXIT.diverged;
  }
  return result.status === 'stopped' ? EXIT.interrupted : EXIT.ok;
}

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const message = (e as Error).message;
    send({ type: 'error', message });
    log(`error: ${message}`);
    process.exitCode = exitCodeFor(e);
  },
);
