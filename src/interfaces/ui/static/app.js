// The dashboard page: plain JavaScript, no build step. The server does the heavy work
// (selection, sorting, smoothing, downsampling, grouping) and answers with rows and Vega-Lite
// specs; this file keeps the page state (mirrored in the URL hash, so a view can be bookmarked),
// draws tables with DOM calls (never innerHTML with data), and redraws when the server's event
// stream says the store changed. A chart whose spec keeps its shape gets its data swapped in
// place (view.data), so live curves grow without flicker.
/* global vegaEmbed */

const statuses = ['pending', 'running', 'done', 'failed', 'interrupted'];
const defaults = {
  run: '', runBookkeeping: false, bookkeeping: false,
  sweep: '', status: [], tag: '', where: '', fmetric: '', fmin: '', fmax: '', q: '', sort: '', desc: false, page: 0, pageSize: 50, selected: [],
  c: { metric: 'loss', x: 'step', smoothing: 0.6, logX: false, logY: false, maxRuns: 50, group: [], spread: 'std' },
  hp: { view: 'parallel', metric: '', x: '', color: '', logX: false },
};
const state = loadState();
const $ = (id) => document.getElementById(id);

function loadState() {
  try {
    const h = decodeURIComponent(location.hash.slice(1));
    if (h) {
      const s = JSON.parse(h);
      return { ...defaults, ...s, c: { ...defaults.c, ...s.c }, hp: { ...defaults.hp, ...s.hp } };
    }
  } catch { /* a hand-edited hash: start afresh */ }
  return structuredClone(defaults);
}

function saveState() {
  history.replaceState(null, '', `#${encodeURIComponent(JSON.stringify(state))}`);
}

// ---- fetching ---------------------------------------------------------------------------

async function get(path, params) {
  const res = await fetch(params ? `${path}?${params}` : path);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/** The run selection as query parameters (the server's `selection`). */
function selectionParams() {
  const p = new URLSearchParams();
  if (state.sweep) p.set('sweep', state.sweep);
  if (state.status.length) p.set('status', state.status.join(','));
  if (state.tag) p.set('tag', state.tag);
  for (const w of state.where.split(/[,;]/)) if (w.trim()) p.append('where', w.trim());
  if (state.fmetric && state.fmin !== '') p.append('final', `${state.fmetric}>=${state.fmin}`);
  if (state.fmetric && state.fmax !== '') p.append('final', `${state.fmetric}<=${state.fmax}`);
  if (state.q) p.set('q', state.q);
  if (state.sort) { p.set('sort', state.sort); if (state.desc) p.set('desc', '1'); }
  return p;
}

// ---- formatting (the conventions of src/base/format.ts, copied: this file runs in the browser) ----

function fmtCount(n) {
  if (n === null || n === undefined) return '';
  for (const [u, s] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) if (Math.abs(n) >= u) return `${+(n / u).toPrecision(3)}${s}`;
  return String(n);
}
const fmtSci = (n) => (n === null || n === undefined ? '' : n === 0 ? '0' : n.toExponential(2).replace('e+', 'e'));
function fmtVal(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function setOptions(select, values, current, labels = {}) {
  const keep = [...select.options].filter((o) => o.dataset.fixed !== undefined);
  select.replaceChildren(...keep, ...values.map((v) => el('option', { value: v }, labels[v] ?? v)));
  select.value = values.includes(current) || keep.some((o) => o.value === current) ? current : (keep[0]?.value ?? values[0] ?? '');
  return select.value;
}

// ---- charts -----------------------------------------------------------------------------

const views = new Map();

/** Draws a spec into a container; when only its data changed, swaps the data in place. */
async function draw(container, spec) {
  const { datasets = {}, ...shape } = spec;
  const key = JSON.stringify(shape);
  const current = views.get(container.id);
  if (current && current.key === key) {
    for (const [name, values] of Object.entries(datasets)) current.view.data(name, values);
    await current.view.runAsync();
  } else {
    current?.view.finalize();
    const res = await vegaEmbed(container, spec, { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } });
    views.set(container.id, { key, view: res.view });
  }
  container.dataset.points = String(datasets.rows?.length ?? 0);
  container.dataset.updates = String(Number(container.dataset.updates ?? 0) + 1);
}

function clearChart(container, message) {
  views.get(container.id)?.view.finalize();
  views.delete(container.id);
  container.replaceChildren(el('p', { class: 'muted' }, message));
  container.dataset.points = '0';
}

// ---- runs table -------------------------------------------------------------------------

let page = null;

async function loadRuns() {
  const p = selectionParams();
  p.set('offset', String(state.page * state.pageSize));
  p.set('limit', String(state.pageSize));
  if (state.bookkeeping) p.set('bookkeeping', '1');
  page = await get('/api/runs', p);
  if (page.rows.length === 0 && page.total > 0 && state.page > 0) { state.page = 0; return loadRuns(); }
  renderRuns();
  setOptions($('f-metric'), page.finalKeys, state.fmetric);
  renderGroupChoices(page.configKeys);
  const hpKeys = page.configKeys;
  state.hp.x = setOptions($('hp-x'), hpKeys, state.hp.x);
  state.hp.color = setOptions($('hp-color'), hpKeys, state.hp.color);
  state.hp.metric = setOptions($('hp-metric'), page.finalKeys, state.hp.metric || (page.finalKeys.includes('val_loss') ? 'val_loss' : 'loss'));
}

function renderRuns() {
  const finals = page.finalKeys.slice(0, 4);
  const cols = [
    ['', null], ['name', 'name'], ['status', 'status'], ['step', 'step'], ['params', 'params'], ['tokens', 'tokens'], ['FLOPs', 'flops'],
    ...finals.map((k) => [k, `final.${k}`]), ...page.configKeys.map((k) => [k, `config.${k}`, k]),
  ];
  const head = el('tr', {}, ...cols.map(([label, key, full]) => {
    if (!key) return el('th', {}, el('input', { type: 'checkbox', title: 'select this page', onchange: (e) => selectPage(e.target.checked) }));
    const sorted = state.sort === key;
    return el('th', { class: `${sorted ? 'sorted' : ''} ${sorted && state.desc ? 'desc' : ''}`, title: full ?? key, 'data-sort': key, onclick: () => sortBy(key) }, label);
  }));
  $('runs-table').tHead.replaceChildren(head);
  const selected = new Set(state.selected);
  const body = page.rows.map((r) => el('tr', { class: selected.has(r.id) ? 'sel' : '', 'data-id': r.id },
    el('td', {}, el('input', { type: 'checkbox', checked: selected.has(r.id), onchange: (e) => toggle(r.id, e.target.checked) })),
    el('td', { title: r.id }, el('a', { href: '#', class: 'run-link', onclick: (e) => { e.preventDefault(); openRun(r.id); } }, r.name)),
    el('td', { class: `status-${r.status}`, title: r.error ?? '' }, r.status),
    el('td', { class: 'n' }, fmtVal(r.step)),
    el('td', { class: 'n' }, fmtCount(r.params)),
    el('td', { class: 'n' }, fmtCount(r.tokens)),
    el('td', { class: 'n' }, fmtSci(r.flops)),
    ...finals.map((k) => el('td', { class: 'n' }, fmtVal(r.final[k]))),
    ...page.configKeys.map((k) => el('td', { class: typeof r.config[k] === 'number' ? 'n' : '' }, fmtVal(r.config[k]))),
  ));
  $('runs-table').tBodies[0].replaceChildren(...body);
  const counts = Object.entries(page.byStatus).map(([k, n]) => `${n} ${k}`).join(', ');
  $('runs-summary').textContent = `${page.total} runs${counts ? ` (${counts})` : ''}`;
  // bookkeeping keys (logInterval, ...) are one click away, for the table and the hyperparameters
  $('bookkeeping').checked = state.bookkeeping;
  $('bookkeeping-note').textContent = page.hiddenKeys.length ? `(${page.hiddenKeys.length} hidden: ${page.hiddenKeys.join(', ')})` : '';
  $('bookkeeping-note').title = page.hiddenKeys.join(', ');
  const pages = Math.max(1, Math.ceil(page.total / state.pageSize));
  $('pager').replaceChildren(
    el('button', { disabled: state.page === 0, onclick: () => goPage(state.page - 1) }, '‹ prev'),
    `page ${state.page + 1} of ${pages}`,
    el('button', { disabled: state.page >= pages - 1, onclick: () => goPage(state.page + 1) }, 'next ›'),
  );
  renderSelection();
}

function renderSelection() {
  const n = state.selected.length;
  $('selection').replaceChildren(...(n ? [`${n} selected: curves, hyperparameters and comparison show them `, el('button', { onclick: () => { state.selected = []; changed(); } }, 'clear')] : ['select runs to compare them']));
}

function sortBy(key) {
  if (state.sort === key) state.desc = !state.desc;
  else { state.sort = key; state.desc = false; }
  state.page = 0;
  saveState();
  loadRuns().catch(showError);
}

function goPage(n) { state.page = n; saveState(); loadRuns().catch(showError); }

function toggle(id, on) {
  state.selected = on ? [...new Set([...state.selected, id])] : state.selected.filter((x) => x !== id);
  changed({ runs: false });
  renderRuns();
}

function selectPage(on) {
  const ids = page.rows.map((r) => r.id);
  state.selected = on ? [...new Set([...state.selected, ...ids])] : state.selected.filter((x) => !ids.includes(x));
  changed({ runs: false });
  renderRuns();
}

// ---- curves -----------------------------------------------------------------------------

function renderGroupChoices(keys) {
  state.c.group = state.c.group.filter((k) => keys.includes(k));
  $('c-group').replaceChildren(...(keys.length ? keys.map((k) => el('label', { title: k },
    el('input', { type: 'checkbox', value: k, checked: state.c.group.includes(k), onchange: (e) => {
      state.c.group = e.target.checked ? [...state.c.group, k] : state.c.group.filter((x) => x !== k);
      saveState(); loadCurves().catch(showError);
    } }), ` ${k}`)) : [el('span', { class: 'muted' }, 'no config key varies')]));
}

async function loadMetrics() {
  const m = await get('/api/metrics', selectionParams());
  const all = [...m.train, ...m.eval];
  state.c.metric = setOptions($('c-metric'), all, state.c.metric);
  const xs = ['step', ...['tokens', 'time'].filter((k) => m.train.includes(k))];
  state.c.x = setOptions($('c-x'), xs, state.c.x);
}

async function loadCurves() {
  const box = $('curves');
  if (!state.c.metric) return clearChart(box, 'no metrics logged yet');
  const p = state.selected.length ? new URLSearchParams({ ids: state.selected.join(',') }) : selectionParams();
  p.set('metric', state.c.metric);
  p.set('x', state.c.x);
  p.set('smoothing', String(state.c.smoothing));
  p.set('maxRuns', String(state.c.maxRuns));
  p.set('spread', state.c.spread);
  if (state.c.group.length) p.set('group', state.c.group.join(','));
  if (state.c.logX) p.set('logX', '1');
  if (state.c.logY) p.set('logY', '1');
  const v = await get('/api/curves', p);
  const what = state.selected.length ? 'selected' : 'matching';
  $('curves-note').textContent = v.groups
    ? `${v.groups} groups of ${v.shown} ${what} runs, mean and ${state.c.spread} band`
    : `${v.shown} of ${v.total} ${what} runs${v.shown < v.total ? ` (raise "runs at most", filter, or group to see all)` : ''}`;
  if (v.shown === 0 || v.points === 0) return clearChart(box, 'nothing logged for these runs yet');
  await draw(box, v.spec);
}

// ---- hyperparameters, comparison, reports -----------------------------------------------

async function loadHparams() {
  const box = $('hp-chart');
  for (const e of document.querySelectorAll('.scatter-only')) e.hidden = state.hp.view !== 'scatter';
  if (!state.hp.metric || !page?.configKeys.length) return clearChart(box, 'needs runs that differ in their config and have a final metric');
  // like the curves, the view follows the selected runs, else every matching run
  const p = state.selected.length ? new URLSearchParams({ ids: state.selected.join(',') }) : selectionParams();
  p.set('metric', state.hp.metric);
  p.set('view', state.hp.view);
  if (state.bookkeeping) p.set('bookkeeping', '1');
  if (state.hp.view === 'scatter') {
    if (state.hp.x) p.set('keys', state.hp.x);
    if (state.hp.color) p.set('color', state.hp.color);
    if (state.hp.logX) p.set('logX', '1');
  }
  const v = await get('/api/hparams', p);
  $('hp-note').textContent = `${v.runs} ${state.selected.length ? 'selected' : 'matching'} runs with a final ${state.hp.metric}`;
  if (v.runs === 0) return clearChart(box, `no run has a final ${state.hp.metric} yet`);
  await draw(box, v.spec);
}

async function loadCompare() {
  const box = $('compare');
  box.hidden = state.selected.length < 2;
  if (box.hidden) return;
  const c = await get('/api/compare', new URLSearchParams({ ids: state.selected.join(',') }));
  const rows = [
    ['name', ...c.runs.map((r) => r.name)], ['status', ...c.runs.map((r) => r.status)],
    ...Object.entries(c.config).map(([k, vs]) => [`config.${k}`, ...vs.map(fmtVal)]),
    ...Object.entries(c.final).map(([k, vs]) => [`final.${k}`, ...vs.map(fmtVal)]),
  ];
  $('compare-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', {}, ''), ...c.runs.map((r) => el('th', {}, r.id)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((cell, i) => el('td', { class: i && /^-?[\d.]+(e-?\d+)?$/.test(cell) ? 'n' : '' }, cell))))),
  );
}

async function loadSweeps() {
  const sweeps = await get('/api/sweeps');
  state.sweep = setOptions($('f-sweep'), sweeps.map((s) => s.name), state.sweep);
  $('report-list').replaceChildren(...sweeps.map((s) => el('li', {},
    el('a', { href: `/report/${encodeURIComponent(s.name)}`, target: '_blank' }, s.name), ` ${s.runs} runs: `,
    Object.entries(s.byStatus).map(([k, n]) => `${n} ${k}`).join(', '))));
  const tags = await get('/api/tags');
  state.tag = setOptions($('f-tag'), tags, state.tag);
}

// ---- run page ---------------------------------------------------------------------------

let runPage = null;

function openRun(id) {
  state.run = id;
  saveState();
  loadRunPage().then(() => $('run').scrollIntoView()).catch(showError);
}

async function loadRunPage() {
  const section = $('run');
  if (!state.run) { section.hidden = true; runPage = null; return; }
  runPage = await get(`/api/run/${encodeURIComponent(state.run)}`);
  section.hidden = false;
  const r = runPage.run;
  $('run-title').textContent = `Run ${r.name}`;
  $('run-status').className = `status-${r.status}`;
  $('run-status').textContent = `${r.status}${r.error ? `: ${r.error}` : ''}`;
  $('run-links').replaceChildren(...runPage.sweeps.flatMap((s) => [' sweep ', el('a', { href: s.report, target: '_blank', class: 'sweep-report' }, `${s.name} (report)`)]));
  $('run-reproduce').textContent = runPage.reproduce ?? '(the run folder is not recorded)';
  $('run-bookkeeping').checked = state.runBookkeeping;
  const word = runPage.valuesAre; // "final" only for a finished run
  const panels = $('run-panels');
  const boxes = runPage.panels.map((p, i) => {
    const id = `run-panel-${i}`;
    return document.getElementById(id) ?? el('div', { id, class: 'chart panel', 'data-key': p.key });
  });
  panels.replaceChildren(...boxes);
  await Promise.all(runPage.panels.map((p, i) => {
    boxes[i].title = p.last ? `${p.key}: ${word} ${fmtVal(p.last.value)} at step ${p.last.step}` : p.key;
    return draw(boxes[i], p.spec);
  }));
  $('run-evals').replaceChildren(
    el('tr', {}, el('th', {}, 'split'), el('th', {}, 'metric'), el('th', {}, 'step'), el('th', {}, `value (${word === 'final' ? 'final run' : 'run still going'})`)),
    ...runPage.evals.map((e) => el('tr', {}, el('td', {}, e.split), el('td', {}, e.key), el('td', { class: 'n' }, e.step), el('td', { class: 'n' }, fmtVal(e.value)))),
  );
  // The evaluation harness's scores (eval RUN --tasks), per checkpoint.
  $('run-tasks').replaceChildren(
    el('tr', {}, el('th', {}, 'task'), el('th', {}, 'shots'), el('th', {}, 'metric'), el('th', {}, 'step'), el('th', {}, 'value'), el('th', {}, 'items')),
    ...runPage.taskEvals.map((t) => el('tr', {}, el('td', {}, t.task), el('td', { class: 'n' }, t.shots), el('td', {}, t.metric), el('td', { class: 'n' }, t.step), el('td', { class: 'n' }, fmtVal(t.value)), el('td', { class: 'n' }, t.items))),
  );
  // Text generated during training (the config's samples section), newest step first.
  $('run-samples').replaceChildren(
    el('tr', {}, el('th', {}, 'step'), el('th', {}, 'prompt'), el('th', {}, 'text')),
    ...runPage.samples.flatMap((s) => s.samples.map((x) => el('tr', {}, el('td', { class: 'n' }, s.step), el('td', {}, JSON.stringify(x.prompt)), el('td', { class: 'sample' }, x.text)))),
  );
  const shown = runPage.config.filter((c) => state.runBookkeeping || !c.bookkeeping);
  $('run-config').replaceChildren(
    el('tr', {}, el('th', {}, 'key'), el('th', {}, 'value')),
    ...shown.map((c) => el('tr', { class: c.bookkeeping ? 'bookkeeping' : '' }, el('td', {}, c.key), el('td', {}, fmtVal(c.value)))),
  );
  $('run-checkpoints').textContent = runPage.checkpoints.length ? runPage.checkpoints.map((s) => `ckpt-${s}`).join(', ') : 'none on this machine';
}

function download(name, type, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function runCsv() {
  const lines = ['run,metric,step,value'];
  for (const p of runPage.panels) for (const row of p.spec.datasets.rows) lines.push(`${runPage.run.id},${p.key},${row.x},${row.y}`);
  return `${lines.join('\n')}\n`;
}

// ---- refresh ----------------------------------------------------------------------------

let busy = false, again = false;

/** Reloads what depends on the store; one refresh at a time, and one more if asked meanwhile. */
async function refresh(parts = {}) {
  if (busy) { again = true; return; }
  busy = true;
  try {
    $('f-error').textContent = '';
    if (parts.sweeps !== false) await loadSweeps();
    if (parts.runs !== false) await loadRuns();
    await loadMetrics();
    await Promise.all([loadCurves(), loadHparams(), loadCompare(), loadRunPage()]);
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
    if (again) { again = false; setTimeout(() => refresh(), 200); }
  }
}

function showError(e) { $('f-error').textContent = e.message; }

function changed(parts) { saveState(); refresh(parts); }

function bindControls() {
  const on = (id, ev, fn) => $(id).addEventListener(ev, fn);
  $('f-status').replaceChildren(...statuses.map((s) => el('label', {}, el('input', { type: 'checkbox', value: s, checked: state.status.includes(s), onchange: (e) => {
    state.status = e.target.checked ? [...state.status, s] : state.status.filter((x) => x !== s);
    state.page = 0; changed({ sweeps: false });
  } }), ` ${s}`)));
  const text = [['f-where', 'where'], ['f-min', 'fmin'], ['f-max', 'fmax'], ['f-q', 'q']];
  for (const [id, key] of text) { $(id).value = state[key]; on(id, 'change', (e) => { state[key] = e.target.value.trim(); state.page = 0; changed({ sweeps: false }); }); }
  for (const [id, key] of [['f-sweep', 'sweep'], ['f-tag', 'tag'], ['f-metric', 'fmetric']]) on(id, 'change', (e) => { state[key] = e.target.value; state.page = 0; changed({ sweeps: false }); });
  const curve = (id, key, read) => { on(id, 'change', (e) => { state.c[key] = read(e.target); saveState(); loadCurves().catch(showError); }); };
  curve('c-metric', 'metric', (t) => t.value);
  curve('c-x', 'x', (t) => t.value);
  curve('c-logx', 'logX', (t) => t.checked);
  curve('c-logy', 'logY', (t) => t.checked);
  curve('c-spread', 'spread', (t) => t.value);
  curve('c-max', 'maxRuns', (t) => Math.max(1, Number(t.value) || 50));
  $('c-smoothing').value = String(state.c.smoothing);
  $('c-smoothing-out').textContent = String(state.c.smoothing);
  on('c-smoothing', 'input', (e) => { $('c-smoothing-out').textContent = e.target.value; });
  curve('c-smoothing', 'smoothing', (t) => Number(t.value));
  $('c-logx').checked = state.c.logX;
  $('c-logy').checked = state.c.logY;
  $('c-max').value = String(state.c.maxRuns);
  $('c-spread').value = state.c.spread;
  const hp = (id, key, read) => { on(id, 'change', (e) => { state.hp[key] = read(e.target); saveState(); loadHparams().catch(showError); }); };
  hp('hp-view', 'view', (t) => t.value);
  hp('hp-metric', 'metric', (t) => t.value);
  hp('hp-x', 'x', (t) => t.value);
  hp('hp-color', 'color', (t) => t.value);
  hp('hp-logx', 'logX', (t) => t.checked);
  $('hp-view').value = state.hp.view;
  $('hp-logx').checked = state.hp.logX;
  on('run-close', 'click', () => { state.run = ''; saveState(); loadRunPage().catch(showError); });
  on('bookkeeping', 'change', (e) => { state.bookkeeping = e.target.checked; changed({ sweeps: false }); });
  on('run-bookkeeping', 'change', (e) => { state.runBookkeeping = e.target.checked; saveState(); loadRunPage().catch(showError); });
  on('run-csv', 'click', () => runPage && download(`${runPage.run.name}-metrics.csv`, 'text/csv', runCsv()));
  on('run-json', 'click', () => runPage && download(`${runPage.run.name}.json`, 'application/json', JSON.stringify(runPage, null, 2)));
  $('hp-color').options[0].dataset.fixed = '';
  $('f-sweep').options[0].dataset.fixed = '';
  $('f-tag').options[0].dataset.fixed = '';
  $('f-metric').options[0].dataset.fixed = '';
}

function listen() {
  const live = $('live');
  let version = null;
  const source = new EventSource('/api/events');
  source.addEventListener('version', (e) => {
    const v = JSON.parse(e.data).version;
    live.className = 'live on';
    live.textContent = `live · ${new Date().toLocaleTimeString()}`;
    if (version !== null && v !== version) refresh();
    version = v;
  });
  source.addEventListener('error', () => { live.className = 'live off'; live.textContent = 'disconnected (retrying)'; });
}

bindControls();
refresh().then(listen);
