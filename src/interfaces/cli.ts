// `npx windtunnel ...`: the command-line interface. Each command lives in its own
// module under commands/ and registers itself on the program; this file only lists them.
// Modules load on demand: a `train` child process need not load the dashboard, the
// plotting libraries or the Redis client (seconds of start-up and ~80 MB of memory).

import { Command } from 'commander';

type Register = (program: Command) => void;

/** Command name -> the module that registers it. */
const commands: Record<string, () => Promise<Register>> = {
  info: async () => (await import('./commands/info.js')).registerInfo,
  bench: async () => (await import('./commands/bench.js')).registerBench,
  train: async () => (await import('./commands/train.js')).registerTrain,
  resume: async () => (await import('./commands/train.js')).registerResume,
  sample: async () => (await import('./commands/sample.js')).registerSample,
  eval: async () => (await import('./commands/eval.js')).registerEval,
  export: async () => (await import('./commands/export.js')).registerExport,
  branch: async () => (await import('./commands/branch.js')).registerBranch,
  sweep: async () => (await import('./commands/sweep.js')).registerSweep,
  runs: async () => (await import('./commands/runs.js')).registerRuns,
  fit: async () => (await import('./commands/fit.js')).registerFit,
  report: async () => (await import('./commands/report.js')).registerReport,
  ui: async () => (await import('./commands/ui.js')).registerUi,
  worker: async () => (await import('./commands/queue.js')).registerWorker,
  collect: async () => (await import('./commands/queue.js')).registerCollect,
  study: async () => (await import('./commands/study.js')).registerStudy,
  inspect: async () => (await import('./commands/inspect.js')).registerInspect,
  tasks: async () => (await import('./commands/tasks.js')).registerTasks,
};

const program = new Command('windtunnel')
  .description('A laboratory for small language models: train, sweep, fit laws, dissect.')
  .showHelpAfterError();

// The first non-option argument names the command; without one (or for an unknown name)
// every command is registered, so help and "did you mean" see them all.
const wanted = process.argv.slice(2).find((a) => !a.startsWith('-'));
const names = wanted && commands[wanted] ? [wanted] : Object.keys(commands);
for (const name of names) (await commands[name]())(program);

await program.parseAsync(process.argv);
