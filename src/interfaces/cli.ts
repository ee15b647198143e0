// `npx windtunnel ...`: the command-line interface. Each command lives in its own
// module under commands/ and registers itself on the program; this file only lists them.

import { Command } from 'commander';
import { registerInfo } from './commands/info.js';
import { registerBench } from './commands/bench.js';
import { registerTrain, registerResume } from './commands/train.js';
import { registerSample } from './commands/sample.js';
import { registerEval } from './commands/eval.js';
import { registerExport } from './commands/export.js';
import { registerBranch } from './commands/branch.js';
import { registerSweep } from './commands/sweep.js';
import { registerRuns } from './commands/runs.js';
import { registerFit } from './commands/fit.js';
import { registerReport } from './commands/report.js';
import { registerUi } from './commands/ui.js';
import { registerWorker, registerCollect } from './commands/queue.js';
import { registerStudy } from './commands/study.js';

const program = new Command('windtunnel')
  .description('A laboratory for small language models: train, sweep, fit laws, dissect.')
  .showHelpAfterError();

registerInfo(program);
registerBench(program);
registerTrain(program);
registerResume(program);
registerSample(program);
registerEval(program);
registerExport(program);
registerBranch(program);
registerSweep(program);
registerRuns(program);
registerFit(program);
registerReport(program);
registerUi(program);
registerWorker(program);
registerCollect(program);
registerStudy(program);

await program.parseAsync(process.argv);
