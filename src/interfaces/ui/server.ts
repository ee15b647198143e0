// The dashboard's HTTP server (Node's http, nothing else): the page and its script, Vega /
// Vega-Lite / vega-embed from node_modules (nothing from the network), a JSON API over the
// store through src/lab/presentation/dashboard-views.ts, sweep reports rendered on request, and a
// server-sent event stream that says when the store changed. Read-only: the store is opened
// read-only, every route is GET.
//
//   GET /                         the page (static/index.html, app.js, app.css)
//   GET /vendor/<lib>.min.js      vega, vega-lite, vega-embed
//   GET /api/version              {version}: changes whenever anything is written to the store
//   GET /api/events               text/event-stream: "version" events as the store changes
//   GET /api/sweeps               sweeps with run counts by status
//   GET /api/tags                 every tag in use
//   GET /api/runs                 a page of the runs table: selection + offset, limit, bookkeeping (1: show those keys)
//   GET /api/metrics              metric names of a selection (training, and eval as split/key)
//   GET /api/curves               a curves figure: selection or ids + metric, x, smoothing, group, spread, points, maxRuns, logX, logY
//   GET /api/hparams              hyperparameters vs a final metric: selection or ids + metric, view, keys, color, logX, logY, bookkeeping
//   GET /api/compare?ids=a,b      config values that differ and final metrics, side by side
//   GET /api/run/<id>             one run and the series it logged
//   GET /report/<sweep>           the sweep's HTML report
// A selection is: sweep, tag (repeat), status (comma list), where (repeat: config test such as
// lr<=3e-3), final (repeat: metric test such as loss<3.5), q (name text), sort, desc.
// Results are cached per store version, so many open pages cost one computation.
// There is no authentication. Against DNS rebinding (a web page whose host name is made to
// resolve to 127.0.0.1), a request must name this server in its Host header: localhost,
// 127.0.0.1, [::1], the address it listens on, or (listening on every interface) this
// machine's host name and addresses; anything else is 403.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueryError, compareRuns, findRun, listSweeps, metricKeys, parseCondition, queryRuns, type RunFilter } from '../../lab/results/query.js';
import { runStatuses, Store, type RunStatus } from '../../lab/results/store.js';
import { renderReport } from '../../lab/presentation/report.js';
import { CurveCache, curvesView, hparamsView, metricNames, runPageView, runsPage, selectRuns, type Selection } from '../../lab/presentation/dashboard-views.js';
import { listCheckpoints } from '../../training/checkpoint.js';
import { spreads, type Spread } from '../../lab/presentation/plots-data.js';

export interface UiOptions {
  /** The results store file. */
  db: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** How often the event stream looks for changes (default 500 ms). */
  pollMs?: number;
}

export interface UiServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

const staticDir = fileURLToPath(new URL('./static/', import.meta.url));
const statics: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
};

/** The browser builds of the plotting libraries, found through their packages. */
function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const build = (pkg: string): string => dirname(require.resolve(pkg));
  return {
    '/vendor/vega.min.js': join(build('vega'), 'vega.min.js'),
    '/vendor/vega-lite.min.js': join(build('vega-lite'), 'vega-lite.min.js'),
    '/vendor/vega-embed.min.js': join(build('vega-embed'), 'vega-embed.min.js'),
  };
}

export async function startUi(o: UiOptions): Promise<UiServer> {
  const store = Store.open(o.db, { readonly: true });
  const vendor = vendorFiles();
  const curves = new CurveCache();
  const fileCache = new Map<string, Buffer>();
  const version = (): number => store.db.pragma('data_version', { simple: true }) as number;
  // data_version changes whenever another connection (a runner, a trainer's ingest) commits.
  const cache = new Map<string, { version: number; value: Promise<unknown> }>();
  const cached = (key: string, fn: () => unknown | Promise<unknown>): Promise<unknown> => {
    const v = version();
    const hit = cache.get(key);
    if (hit && hit.version === v) return hit.value;
    const value = Promise.resolve().then(fn);
    if (cache.size > 200) cache.clear();
    cache.set(key, { version: v, value });
    value.catch(() => cache.delete(key));
    return value;
  };

  const api: Record<string, (p: URLSearchParams) => unknown> = {
    '/api/version': () => ({ version: version() }),
    '/api/sweeps': () => listSweeps(store),
    '/api/tags': () => (store.db.prepare('SELECT DISTINCT tag FROM run_tags ORDER BY tag').pluck().all() as string[]),
    '/api/runs': (p) => runsPage(store, selection(p), int(p, 'offset', 0, 0), int(p, 'limit', 50, 1, 1000), flag(p, 'bookkeeping')),
    '/api/metrics': (p) => metricNames(store, selectRuns(store, selection(p))),
    '/api/curves': (p) => {
      const ids = list(p, 'ids');
      const runs = ids.length ? queryRuns(store, { ids }).sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)) : selectRuns(store, selection(p));
      const spread = p.get('spread') ?? 'std';
      if (!spreads.includes(spread as Spread)) throw new HttpError(400, `spread must be one of ${spreads.join(', ')}`);
      return curvesView(store, runs, {
        metric: p.get('metric') || 'loss', x: p.get('x') || 'step', smoothing: num(p, 'smoothing', 0, 0, 0.999),
        groupBy: list(p, 'group'), spread: spread as Spread, points: int(p, 'points', 400, 10, 5000), maxRuns: int(p, 'maxRuns', 50, 1, 5000),
        logX: flag(p, 'logX'), logY: flag(p, 'logY'),
      }, curves);
    },
    '/api/hparams': (p) => {
      const view = p.get('view') ?? 'parallel';
      if (view !== 'parallel' && view !== 'scatter') throw new HttpError(400, 'view must be parallel or scatter');
      // ids: the runs selected in the table (the view follows the selection); else the filter's runs
      const ids = list(p, 'ids');
      return hparamsView(selectRuns(store, ids.length ? { filter: { ids } } : selection(p)), {
        metric: p.get('metric') || 'loss', view, keys: list(p, 'keys'), color: p.get('color') || undefined, logX: flag(p, 'logX'), logY: flag(p, 'logY'),
        bookkeeping: flag(p, 'bookkeeping'),
      });
    },
    '/api/compare': (p) => {
      const ids = list(p, 'ids');
      if (ids.length === 0) throw new HttpError(400, 'give ids=a,b,...');
      return compareRuns(ids.map((id) => findRun(store, id)));
    },
  };

  const allowedHosts = hostNames(o.host ?? '127.0.0.1');
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = hostOf(req.headers.host);
    if (host === null || !allowedHosts.has(host)) throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this dashboard (open it as http://localhost:PORT/)`);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'the dashboard is read-only: GET only');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (statics[path] || vendor[path]) {
      const [file, type] = statics[path] ? [join(staticDir, statics[path][0]), statics[path][1]] : [vendor[path], 'text/javascript; charset=utf-8'];
      let body = fileCache.get(file);
      if (!body) { body = readFileSync(file); if (vendor[path]) fileCache.set(file, body); }
      res.writeHead(200, { 'content-type': type, 'cache-control': vendor[path] ? 'max-age=86400' : 'no-cache' });
      res.end(body);
      return;
    }
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path === '/api/events') return events(req, res);
    if (path.startsWith('/api/run/')) {
      const r = findRun(store, decodePath(path.slice('/api/run/'.length)));
      const checkpoints = r.dir && existsSync(r.dir) ? listCheckpoints(r.dir) : [];
      return json(res, { ...runPageView(store, r, checkpoints), series: metricKeys(store, r.id) });
    }
    if (path.startsWith('/report/')) {
      const sweep = decodePath(path.slice('/report/'.length));
      const r = await cached(`report:${sweep}`, () => renderReport(store, sweep)) as { html: string };
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(r.html);
      return;
    }
    const route = api[path];
    if (!route) throw new HttpError(404, `no such page: ${path}`);
    const params = url.searchParams;
    json(res, path === '/api/version' ? route(params) : await cached(`${path}?${params}`, () => route(params)));
  };

  // The event stream: one timer for all listeners, running only while someone listens.
  const listeners = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null, last = version(), beat = 0;
  const events = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: version\ndata: ${JSON.stringify({ version: version() })}\n\n`);
    listeners.add(res);
    req.on('close', () => { listeners.delete(res); if (listeners.size === 0 && timer) { clearInterval(timer); timer = null; } });
    timer ??= setInterval(() => {
      const v = version();
      if (v !== last) {
        last = v;
        for (const l of listeners) l.write(`event: version\ndata: ${JSON.stringify({ version: v })}\n\n`);
      } else if (++beat % 30 === 0) {
        for (const l of listeners) l.write(': keep-alive\n\n');
      }
    }, o.pollMs ?? 500);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // the lab throws plain Errors for bad input (an unknown run, a malformed condition); anything else is ours
      const status = e instanceof HttpError ? e.status : e instanceof QueryError || (e as Error).constructor === Error ? 400 : 500;
      if (!res.headersSent) json(res, { error: (e as Error).message }, status);
      else res.end();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 8050, o.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host && o.host !== '0.0.0.0' && o.host !== '::' ? o.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    server,
    close: async () => {
      if (timer) clearInterval(timer);
      for (const l of listeners) l.end();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      store.close();
    },
  };
}

/** A path segment's percent-encoding; a malformed one is the client's mistake. */
function decodePath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in ${JSON.stringify(segment)}`);
  }
}

/** The host name of a Host header, lower-cased, without port or IPv6 brackets; null when unreadable. */
export function hostOf(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\[\]]+))(?::\d+)?$/i.exec(header.trim());
  return m ? (m[1] ?? m[2]).toLowerCase() : null;
}

/** The names a request may use for this server (see the header). */
function hostNames(bound: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1', bound.replace(/^\[|\]$/g, '').toLowerCase()]);
  if (bound === '0.0.0.0' || bound === '::') {
    names.add(hostname().toLowerCase());
    for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.toLowerCase());
  }
  return names;
}

function json(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(JSON.stringify(value));
}

/** The run selection of a request (see the header). */
export function selection(p: URLSearchParams): Selection {
  const status = list(p, 'status');
  for (const s of status) if (!runStatuses.includes(s as RunStatus)) throw new HttpError(400, `unknown status "${s}" (known: ${runStatuses.join(', ')})`);
  const filter: RunFilter = {
    sweep: p.get('sweep') || undefined,
    tags: list(p, 'tag'),
    status: status.length ? status as RunStatus[] : undefined,
    where: p.getAll('where').filter((w) => w.trim()).map(parseCondition),
    final: p.getAll('final').filter((w) => w.trim()).map(parseCondition),
  };
  return { filter, q: p.get('q') || undefined, sort: p.get('sort') || undefined, desc: flag(p, 'desc') };
}

/** Repeated or comma-separated values. */
function list(p: URLSearchParams, key: string): string[] {
  return p.getAll(key).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

const flag = (p: URLSearchParams, key: string): boolean => ['1', 'true', 'on', 'yes'].includes(p.get(key) ?? '');

function num(p: URLSearchParams, key: string, dflt: number, lo: number, hi: number): number {
  const raw = p.get(key);
  if (raw === null || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < lo || v > hi) throw new HttpError(400, `${key} must be a number in [${lo}, ${hi}], got "${raw}"`);
  return v;
}

function int(p: URLSearchParams, key: string, dflt: number, lo: number, hi = Number.MAX_SAFE_INTEGER): number {
  const v = num(p, key, dflt, lo, hi);
  if (!Number.isInteger(v)) throw new HttpError(400, `${key} must be an integer, got "${p.get(key)}"`);
  return v;
}
