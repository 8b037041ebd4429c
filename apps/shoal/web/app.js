// The shoal web UI: plain DOM code over the node's JSON API (/api/...).
// Every text that came from the network (file names, peer ids) goes in
// with textContent, never as HTML.
'use strict';

// The token arrives in the URL's fragment (never sent to a server, never
// in a Referer), is kept for this tab only, and leaves the address bar.
function takeToken() {
  const m = /(?:^#|&)token=([0-9a-f]{64})(?:&|$)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('shoal-token', m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('shoal-token') || '';
}

const token = takeToken();
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const opts = {method, headers: {'X-Shoal-Token': token}};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let json = null;
  try {
    json = await resp.json();
  } catch (e) {
    throw new Error(`HTTP ${resp.status} without JSON`);
  }
  if (!resp.ok)
    throw new Error(json && json.error ? json.error : `HTTP ${resp.status}`);
  return json;
}

function showError(err) {
  const el = $('error');
  el.textContent = err ? String(err.message || err) : '';
  el.hidden = !err;
}

// ----------------------------------------------------------- formatting

function size(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (bytes >= 1024 && u < units.length - 1) {
    bytes /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${bytes.toFixed(1)} ${units[u]}`;
}

function duration(s) {
  if (s === null || s === undefined) return '';
  s = Math.round(s);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m`
                 : `${m}:${String(s % 60).padStart(2, '0')}`;
}

const shortHash = (h) => (h ? h.slice(0, 12) : '—');
const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

// One table cell; cls and title optional.
function cell(text, cls, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  return td;
}

function button(text, testid, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.dataset.testid = testid;
  b.addEventListener('click', onclick);
  return b;
}

function fillTable(id, rows) {
  const body = $(id).querySelector('tbody');
  body.replaceChildren(...rows);
}

// --------------------------------------------------------------- status

async function refreshStatus() {
  const s = await api('GET', '/api/status');
  const who = s.mode === 'secure' ? s.peer_id : s.id;
  $('status').textContent =
      `${s.mode} node ${who} · ${plural(s.peers, 'peer')} · ` +
      `${plural(s.files, 'shared file')} · downloads to ${s.download_dir}`;
  $('status').title = s.listen.join('\n');
}

async function refreshPeers() {
  const {peers} = await api('GET', '/api/peers');
  fillTable('peers', peers.map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'peer-row';
    tr.dataset.id = p.id;
    const td = document.createElement('td');
    td.append(button('Remove', 'peer-remove', () => removePeer(p.id)));
    tr.append(cell(p.id, 'mono'), cell(p.addr, 'mono'), td);
    return tr;
  }));
  $('peers').hidden = peers.length === 0;
  $('peers-note').textContent = peers.length ? '' : 'No known peers.';
}

async function removePeer(id) {
  try {
    await api('DELETE', '/api/peers/' + encodeURIComponent(id));
    showError(null);
  } catch (e) {
    showError(e);
  }
  await refreshPeers().catch(showError);
}

async function addPeer(ev) {
  ev.preventDefault();
  const addr = $('peer-addr').value.trim();
  const btn = $('peer-add');
  btn.disabled = true;
  $('peers-note').textContent = `Joining through ${addr}…`;
  try {
    const r = await api('POST', '/api/peers', {addr});
    $('peers-note').textContent = `${plural(r.added, 'peer')} added.`;
    $('peer-addr').value = '';
    showError(null);
  } catch (e) {
    $('peers-note').textContent = '';
    showError(e);
  } finally {
    btn.disabled = false;
  }
  await refreshPeers().catch(showError);
}

async function refreshFiles() {
  const {files} = await api('GET', '/api/files');
  fillTable('files', files.map((f) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'file-row';
    tr.append(cell(f.name), cell(size(f.size), 'num'),
              cell(shortHash(f.hash), 'mono', f.hash));
    return tr;
  }));
  $('files').hidden = files.length === 0;
  $('files-note').textContent = files.length ? '' : 'Nothing shared.';
}

// ----------------------------------------------------- search and fetch

// A search shows its results as they come: started with "wait": false, it
// is read every SEARCH_POLL_MS until done (a classic search lasts its whole
// timeout, and the first holder is worth showing at once). A new search
// takes over from the one before.
const SEARCH_POLL_MS = 250;
let searchRun = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function search(ev) {
  ev.preventDefault();
  const key = $('search-key').value.trim();
  const run = ++searchRun;
  if (!key) return;
  $('search-note').textContent = `Searching for “${key}”…`;
  showResults([]);
  try {
    const {id} = await api('POST', '/api/search', {key, wait: false});
    for (;;) {
      const s = await api('GET', `/api/search/${id}`);
      if (run !== searchRun) return; // a newer search took over
      showResults(s.results);
      if (s.error) throw new Error(`search failed: ${s.error}`);
      if (s.done) {
        $('search-note').textContent =
            `${plural(s.results.length, 'result')} for “${key}”.`;
        break;
      }
      $('search-note').textContent = `Searching for “${key}”… ` +
          `${plural(s.results.length, 'result')} so far.`;
      await sleep(SEARCH_POLL_MS);
    }
    showError(null);
  } catch (e) {
    if (run !== searchRun) return;
    $('search-note').textContent = '';
    showError(e);
  }
}

function showResults(results) {
  $('results').hidden = results.length === 0;
  fillTable('results', results.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'result-row';
    tr.dataset.name = r.name;
    const td = document.createElement('td');
    // Classic peers give no hash: fetch by name then.
    td.append(button('Fetch', 'fetch', () => fetchFile(r.hash || r.name)));
    tr.append(cell(r.name), cell(r.hash ? size(r.size) : '?', 'num'),
              cell(shortHash(r.hash), 'mono', r.hash),
              cell(String(r.holders.length), 'num',
                   r.holders.map((h) => h.addr).join('\n')),
              td);
    return tr;
  }));
}

async function fetchFile(what) {
  try {
    await api('POST', '/api/get', {what});
    showError(null);
  } catch (e) {
    showError(e);
  }
  await refreshTransfers().catch(showError);
}

async function refreshTransfers() {
  const {transfers} = await api('GET', '/api/transfers');
  $('transfers').hidden = transfers.length === 0;
  $('transfers-empty').hidden = transfers.length !== 0;
  // Newest first: the one just started is on top.
  fillTable('transfers', transfers.slice().reverse().map((t) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'transfer-row';
    tr.dataset.id = String(t.id);
    tr.dataset.state = t.state;
    const bar = document.createElement('progress');
    bar.max = t.size || 1;
    bar.value = t.state === 'done' ? bar.max : t.received;
    bar.dataset.testid = 'transfer-progress';
    const pct = t.size ? Math.floor(100 * t.received / t.size) : 0;
    const label = document.createElement('span');
    label.textContent = t.state === 'done' ? '100%' : `${pct}%`;
    const wrap = document.createElement('div');
    wrap.className = 'progress';
    wrap.append(bar, label);
    const prog = document.createElement('td');
    prog.append(wrap);
    const state = cell(t.state, `state ${t.state}`,
                       t.error || (t.state === 'done' ? t.path : ''));
    state.dataset.testid = 'transfer-state';
    tr.append(cell(t.name, '', t.path || t.hash), prog,
              cell(t.state === 'running' ? `${size(t.rate)}/s` : '', 'num'),
              cell(duration(t.eta), 'num'),
              state);
    if (t.error) state.textContent = `failed: ${t.error}`;
    return tr;
  }));
}

// ---------------------------------------------------------------- loops

// Runs fn every ms, never two at once: the next starts when one is over.
function every(ms, fn) {
  const tick = async () => {
    try {
      await fn();
    } catch (e) {
      showError(e);
    }
    setTimeout(tick, ms);
  };
  tick();
}

function start() {
  $('search-form').addEventListener('submit', search);
  $('peer-form').addEventListener('submit', addPeer);
  if (!token) {
    $('status').textContent = 'No token: open the URL that `shoal node` ' +
                              'printed on its "api on" line.';
    return;
  }
  every(2000, refreshStatus);
  every(2000, refreshPeers);
  every(3000, refreshFiles);
  every(500, refreshTransfers);
}

start();
