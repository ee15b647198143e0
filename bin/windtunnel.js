#!/usr/bin/env node
// Entry point for `npx windtunnel`: loads the TypeScript CLI through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';
register();
await import('../src/interfaces/cli.ts');
