// The lab's public surface for library users: the results store and its queries, sweeps
// (parse, expand, estimate, run), reports, and scaling-law fits. The Redis queue and the
// dashboard stay behind the CLI (`windtunnel worker|collect|ui`).
export { Store, runStatuses, type RunStatus, type NewRun, type MetricRow, type EvalRow, type OpenOptions } from './results/store.js';
export * from './results/query.js';
export {
  loadSweep, parseSweep, expandSweep, sweepCost, runCost, runId, SweepError,
  type Sweep, type SweepInput, type ExpandedRun, type ExpandOptions, type RunCost, type SweepCost,
} from './experiments/sweep.js';
export { runSweep, recordSweep, planParallelism, type RunnerEvent, type RunnerOptions, type RunnerSummary } from './experiments/runner.js';
export { writeReport, renderReport, collectReportData, type ReportOptions, type WrittenReport, type RenderedReport } from './presentation/report.js';
export * as fit from './fit/index.js';
