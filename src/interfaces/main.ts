// The executable's entry: bin/windtunnel.js imports this (compiled to dist/, or through tsx).
// cli.ts itself only defines the program, so tests and tools can import it without running it.
import { main } from './cli.js';

await main();
