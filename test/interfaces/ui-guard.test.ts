// The dashboard server's guards against bad and hostile requests: a sort key or a path that
// cannot be read is the client's mistake (400, never 500); a request whose Host header names
// another site is refused (a DNS-rebinding page must not read the store); listening on every
// interface prints that there is no authentication.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/lab/results/store.js';
import { startUi, type UiServer } from '../../src/interfaces/ui/server.js';
import { addSyntheticSweep } from '../lab/report-fixture.js';

let dir: string, db: string, ui: UiServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wt-ui-guard-'));
  db = join(dir, 'windtunnel.db');
  const store = Store.open(db);
  addSyntheticSweep(store, { steps: 20 });
  store.close();
  ui = await startUi({ db, port: 0 });
});

after(async () => {
  await ui?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A GET with a chosen Host header (fetch does not let a caller set it). */
function get(path: string, host?: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, ui.url);
  return new Promise((ok, fail) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('a sort key naming an Object.prototype member, and malformed percent-encoding, are 400', async () => {
  for (const sort of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    const r = await get(`/api/runs?sort=${sort}`);
    assert.equal(r.status, 400, `sort=${sort}: ${r.body}`);
    assert.match(JSON.parse(r.body).error, /cannot sort by/);
  }
  for (const path of ['/api/run/%E0%A4%A', '/api/run/%zz', '/report/%']) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.match(JSON.parse(r.body).error, /percent-encoding|malformed/i);
  }
  assert.equal((await get('/api/runs?sort=name')).status, 200, 'a real sort key still works');
});

test('a foreign Host header is refused; localhost names and the bound address are served', async () => {
  const port = new URL(ui.url).port;
  for (const host of ['evil.example', `evil.example:${port}`, `attacker.localhost.evil.com:${port}`, '127.0.0.1.evil.com']) {
    const r = await get('/api/sweeps', host);
    assert.equal(r.status, 403, `Host: ${host} -> ${r.status}`);
    assert.match(r.body, /Host/);
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', `LOCALHOST:${port}`]) {
    assert.equal((await get('/api/sweeps', host)).status, 200, `Host: ${host}`);
  }
});

test('ui --host 0.0.0.0 warns that there is no authentication; the default host does not', async () => {
  const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const run = (host: string[]): Promise<string> => new Promise((ok) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'windtunnel.js'), 'ui', '--db', db, '--port', '0', ...host], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/dashboard: http/.test(out)) child.kill('SIGTERM');
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', () => ok(out));
  });
  const open = await run(['--host', '0.0.0.0']);
  assert.match(open, /warning: .*no authentication/i, open);
  const local = await run([]);
  assert.doesNotMatch(local, /no authentication/i, local);
});
