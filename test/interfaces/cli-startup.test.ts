// The top-level help lists commands from cli.ts's table without loading their modules; the
// table must say what each module says, or `--help` and `windtunnel NAME --help` would disagree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { commands, listCommands } from '../../src/interfaces/cli.js';

const root = resolve(import.meta.dirname, '../..');

test('each command summary and usage in the CLI table match its module', async () => {
  const listed = new Command('windtunnel');
  listCommands(listed);
  const help = listed.createHelp();
  for (const [name, entry] of Object.entries(commands)) {
    const stub = listed.commands.find((c) => c.name() === name)!;
    const program = new Command('windtunnel');
    (await entry.load())(program);
    const cmd = program.commands.find((c) => c.name() === name);
    assert.ok(cmd, `${name}: its module registers no command of that name`);
    assert.equal(entry.summary, cmd.description(), `${name}: summary`);
    assert.equal(help.subcommandTerm(stub), help.subcommandTerm(cmd), `${name}: usage`);
  }
});

test('--help lists every command without loading any command module', () => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'windtunnel.js'), '--help'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const name of Object.keys(commands)) assert.match(r.stdout, new RegExp(`^  ${name}\\b`, 'm'));
  const typo = spawnSync(process.execPath, [join(root, 'bin', 'windtunnel.js'), 'trian'], { cwd: root, encoding: 'utf8' });
  assert.equal(typo.status, 1);
  assert.match(typo.stderr, /Did you mean train\?/);
  const sub = spawnSync(process.execPath, [join(root, 'bin', 'windtunnel.js'), 'help', 'export'], { cwd: root, encoding: 'utf8' });
  assert.match(sub.stdout, /--format <format>/);
});
