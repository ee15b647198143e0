// `npx windtunnel ...`: the command-line interface. Each command lives in its own
// module under commands/ and registers itself on the program; this file only lists them.
// Modules load on demand: a `train` child process need not load the dashboard, the
// plotting libraries or the Redis client (seconds of start-up and ~80 MB of memory).
// The top-level help only needs each command's name and summary, so it loads no module at
// all (test/interfaces/cli-startup.test.ts checks the summaries match the modules).

import { Command } from 'commander';

type Register = (program: Command) => void;

interface CommandEntry {
  /** Arguments after the name as the top-level help shows them ('[options] <run>'). */
  usage: string;
  /** The module's own .description(), repeated so `--help` need not load it. */
  summary: string;
  load: () => Promise<Register>;
}

/** Command name -> its summary and the module that registers it. */
export const commands: Record<string, CommandEntry> = {
  info: { usage: '[options]', summary: 'print the version, active backend, thread count, BLAS and instruction set', load: async () => (await import('./commands/info.js')).registerInfo },
  bench: { usage: '', summary: 'benchmarks (one JSON line per case)', load: async () => (await import('./commands/bench.js')).registerBench },
  train: { usage: '[options]', summary: 'train a model from a run config (JSON or YAML); writes a run folder', load: async () => (await import('./commands/train.js')).registerTrain },
  resume: { usage: '[options] <run>', summary: 'continue a run folder from its latest checkpoint (a stopped run, or a branch made by `windtunnel branch`)', load: async () => (await import('./commands/train.js')).registerResume },
  sample: { usage: '[options] <run>', summary: "continue a prompt with a run's model (latest checkpoint unless --checkpoint) or a Hugging Face folder's", load: async () => (await import('./commands/sample.js')).registerSample },
  eval: { usage: '[options] <run>', summary: "evaluate a run's model: validation loss, perplexity, bits per byte; or task scores over its checkpoints (--tasks)", load: async () => (await import('./commands/eval.js')).registerEval },
  export: { usage: '[options] <run>', summary: "write a run's model as a Hugging Face checkpoint folder (config.json + model.safetensors + tokenizer) or a GGUF file for llama.cpp", load: async () => (await import('./commands/export.js')).registerExport },
  branch: { usage: '[options] <run>', summary: 'start a new run that decays a WSD run from one of its stable-phase checkpoints', load: async () => (await import('./commands/branch.js')).registerBranch },
  sweep: { usage: '[options] <file>', summary: 'expand a sweep file, show its cost, and run it (again: skips done runs, resumes interrupted ones)', load: async () => (await import('./commands/sweep.js')).registerSweep },
  runs: { usage: '', summary: 'query the results store: list, show, compare and export runs', load: async () => (await import('./commands/runs.js')).registerRuns },
  fit: { usage: '', summary: 'fit laws to results', load: async () => (await import('./commands/fit.js')).registerFit },
  report: { usage: '[options] <sweep>', summary: 'write a sweep report: report.html (self-contained, offline) and report.md; --svg also writes each figure', load: async () => (await import('./commands/report.js')).registerReport },
  ui: { usage: '[options]', summary: 'serve the dashboard: runs table, live curves, grouping by config, hyperparameters, comparison, reports', load: async () => (await import('./commands/ui.js')).registerUi },
  worker: { usage: '[options]', summary: 'take runs from a sweep queue in Redis and train them (one or more per machine; Ctrl-C checkpoints the running runs and puts them back)', load: async () => (await import('./commands/queue.js')).registerWorker },
  collect: { usage: '[options]', summary: 'gather the results that workers send through Redis into the store, until Ctrl-C (one collector per queue)', load: async () => (await import('./commands/queue.js')).registerCollect },
  study: { usage: '[options] <name>', summary: 'run a study (plan its runs, train them, analyse, report the verdict); `study list` names them (wsd-vs-cosine, scaling-law, batch-lr, coord-check, mup-transfer, mup-ablation, layer-redundancy, cot-expressivity, minicpm-recipe, efficient-width, efficient-mixers, lifelong-editing, ln-nonlinearity, emergence-vs-loss)', load: async () => (await import('./commands/study.js')).registerStudy },
  inspect: { usage: '[options] <run> <tool>', summary: "open a run's model: logit and tuned lens, patching, circuits, head finders, layer redundancy, representation rank", load: async () => (await import('./commands/inspect.js')).registerInspect },
  edit: { usage: '[options] <run>', summary: "edit facts in a run's model (ft-l, lora, rome, memit, grace), score the edits, save the edited model as a new run", load: async () => (await import('./commands/edit.js')).registerEdit },
  tasks: { usage: '', summary: 'reasoning tasks: arithmetic, equations, lis, edit-distance (list, sample, make)', load: async () => (await import('./commands/tasks.js')).registerTasks },
};

export function createProgram(): Command {
  return new Command('windtunnel')
    .description('A laboratory for small language models: train, sweep, fit laws, dissect.')
    .showHelpAfterError();
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = createProgram();
  // The first non-option argument names the command: only its module loads. Without one (or
  // for an unknown name) every command is listed by name and summary, so help and "did you
  // mean" see them all; no placeholder can run, since a known name always loads its module.
  // (`help NAME` is NAME's help, so NAME's module loads then too.)
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const wanted = words[0] === 'help' ? words[1] : words[0];
  if (wanted && Object.hasOwn(commands, wanted)) (await commands[wanted].load())(program);
  else listCommands(program);
  await program.parseAsync(argv);
}

/** Every command as a name and summary only (the top-level help's view of them). */
export function listCommands(program: Command): void {
  for (const [name, c] of Object.entries(commands)) {
    program.command(c.usage ? `${name} ${c.usage}` : name).description(c.summary).helpOption(false);
  }
}
