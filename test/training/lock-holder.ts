// Holds a run folder's lock until killed: the "other process" of the run-folder lock tests.
// Usage: node --import tsx test/training/lock-holder.ts <run folder>
import { RunFolder } from '../../src/training/run-folder.js';

new RunFolder(process.argv[2]).lock('lock-holder (a test standing in for a trainer)');
process.stdout.write('locked\n');
setInterval(() => {}, 1000);
