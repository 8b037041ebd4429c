// End to end: the shoal program's web UI in headless Chromium.
//
// Three secure nodes on loopback, in a line: 2 joins 1, 3 joins 2 (one hop
// each, so node 1 reaches node 3 only through node 2). Node 3 shares a file
// of random bytes, larger than one chunk. The test opens node 1's UI from
// the URL on its "api on" line, searches, clicks Fetch on the result, waits
// for the transfer to be done, checks that node 1's copy is byte-identical,
// and saves a screenshot.
//
// usage: node ui_test.mjs --shoal PATH/TO/shoal --screenshot OUT.png
//                         [--chromium /usr/bin/chromium]
// Exit 0 when every check passed; 1 with "FAIL: ..." and the nodes' output.
// Every wait polls with a deadline; the whole run has one too.
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {parseArgs} from 'node:util';

const {values: opt} = parseArgs({
  options: {
    shoal: {type: 'string'},
    screenshot: {type: 'string'},
    chromium: {type: 'string', default: '/usr/bin/chromium'},
  },
});
if (!opt.shoal || !opt.screenshot) {
  console.error('usage: node ui_test.mjs --shoal PATH/TO/shoal ' +
                '--screenshot OUT.png [--chromium PATH]');
  process.exit(2);
}

let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (e) {
  console.error('FAIL: playwright-core is not installed in tests/e2e: run ' +
                'scripts/install-js-deps');
  process.exit(1);
}

const RUN_MS = 150000;       // the whole test, at most
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-e2e-'));
const nodes = [];
let context = null;

// --------------------------------------------------------------- helpers

async function waitFor(what, ms, pred) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Starts `shoal node` with args, on a home of its own (one node per home);
// its output is collected for matching and for the failure report.
function startNode(name, args) {
  const home = ['--home', path.join(tmp, `home-${name}`)];
  const child = spawn(opt.shoal, ['node', ...home, ...args], {
    env: {...process.env, HOME: path.join(tmp, 'home')},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const n = {name, child, out: '', err: '', exit: null};
  child.stdout.on('data', (d) => (n.out += d));
  child.stderr.on('data', (d) => (n.err += d));
  child.on('exit', (code, signal) => (n.exit = {code, signal}));
  nodes.push(n);
  return n;
}

async function startSecureNode(name, extra) {
  const n = startNode(name, [
    '--listen', '/ip4/127.0.0.1/tcp/0', '--key', path.join(tmp, `${name}.key`),
    '--api', '127.0.0.1:0', '--api-token-file', path.join(tmp, `${name}.tok`),
    '--downloads', path.join(tmp, `${name}-downloads`),
    '--check-interval', '0', '--hops', '1', ...extra,
  ]);
  await waitFor(`${name}'s api line`, 10000, () => {
    if (n.exit) throw new Error(`${name} exited: ${JSON.stringify(n.exit)}`);
    return /^api on /m.test(n.out);
  });
  n.addr = /^listening on (\S+)$/m.exec(n.out)[1];
  n.url = /^api on (\S+)$/m.exec(n.out)[1];
  n.api = new URL(n.url).host;
  n.token = n.url.split('#token=')[1];
  return n;
}

// The node's API from here, as `shoal` client commands use it.
async function api(n, p) {
  const r = await fetch(`http://${n.api}${p}`,
                        {headers: {'X-Shoal-Token': n.token}});
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
  return r.json();
}

async function stopAll() {
  if (context) await context.close().catch(() => {});
  for (const n of nodes)
    if (!n.exit) n.child.kill('SIGINT');
  await waitFor('the nodes to stop', 10000, () => nodes.every((n) => n.exit))
      .catch(() => nodes.forEach((n) => n.exit || n.child.kill('SIGKILL')));
}

function report(err) {
  console.error(`FAIL: ${err.message}`);
  for (const n of nodes)
    console.error(`---- ${n.name}\n${n.out}${n.err.slice(-4000)}`);
}

const deadline = setTimeout(async () => {
  report(new Error(`the test took longer than ${RUN_MS} ms`));
  await stopAll();
  process.exit(1);
}, RUN_MS);

// ------------------------------------------------------------------ test

async function main() {
  const share = path.join(tmp, 'share');
  const fileName = 'e2e sample.bin';
  const content = randomBytes(1536 * 1024 + 77);
  fs.mkdirSync(share);
  fs.writeFileSync(path.join(share, fileName), content);

  const n1 = await startSecureNode('node1', []);
  const n2 = await startSecureNode('node2', ['--bootstrap', n1.addr]);
  await waitFor('node 2 to join', 10000, () => /^joined: 1 /m.test(n2.out));
  const n3 = await startSecureNode('node3',
                                   ['--bootstrap', n2.addr, '--share', share]);
  await waitFor('node 3 to join', 10000, () => /^joined: 1 /m.test(n3.out));
  await waitFor('node 3 to index its share', 20000, async () => {
    const {files} = await api(n3, '/api/files');
    return files.length === 1 && files[0].hash !== '';
  });

  // A fresh profile in a folder of the test's own, no network but ours.
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: opt.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
           '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    viewport: {width: 1200, height: 900},
  });
  const outside = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.host === n1.api) return route.continue();
    outside.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });

  await page.goto(n1.url);
  // The token leaves the address bar, and the UI talks to the node.
  await waitFor('the token to leave the URL', 5000,
                () => !page.url().includes('token='));
  const status = page.getByTestId('status');
  await waitFor('the status line', 10000, async () =>
      (await status.textContent()).includes(n1.addr.split('/p2p/')[1]));
  // node 2 at least (peer exchange may have brought node 3 as well)
  await waitFor('node 2 in the peers table', 10000, async () =>
      (await page.getByTestId('peer-row').count()) >= 1);

  // The search shows results as they come: it is started with "wait":
  // false and read with GET /api/search/<id> until done.
  const searchReads = [];
  page.on('request', (r) => {
    if (/\/api\/search\/[0-9]+$/.test(new URL(r.url()).pathname))
      searchReads.push(r.url());
  });
  await page.getByTestId('search-key').fill('  E2E sample ');
  await page.getByTestId('search-button').click();
  const row = page.locator(`[data-testid="result-row"][data-name="${fileName}"]`);
  await waitFor('the search result', 20000, async () =>
      (await row.count()) === 1);
  if (searchReads.length === 0)
    throw new Error('the UI showed results without reading ' +
                    'GET /api/search/<id>: it does not stream them');
  await waitFor('the search to end', 30000, async () =>
      /^1 result for “E2E sample”/.test(
          await page.getByTestId('search-note').textContent()));
  await row.getByTestId('fetch').click();

  const transfer = page.getByTestId('transfer-row').first();
  const state = await waitFor('the transfer to finish', 60000, async () => {
    if ((await transfer.count()) === 0) return null;
    const s = await transfer.getAttribute('data-state');
    return s === 'done' || s === 'failed' ? s : null;
  });
  if (state !== 'done')
    throw new Error(`the transfer ${state}: ` +
                    await transfer.getByTestId('transfer-state').textContent());

  const got = fs.readFileSync(path.join(tmp, 'node1-downloads', fileName));
  if (!got.equals(content))
    throw new Error(`node 1's copy differs (${got.length} bytes, ` +
                    `${content.length} shared)`);
  const {transfers} = await api(n1, '/api/transfers');
  if (transfers.length !== 1 || transfers[0].received !== content.length)
    throw new Error(`transfers: ${JSON.stringify(transfers)}`);

  await page.screenshot({path: opt.screenshot, fullPage: true});

  // A reload finds the token in the tab's session storage.
  await page.reload();
  await waitFor('the status line after a reload', 10000, async () =>
      (await status.textContent()).includes(n1.addr.split('/p2p/')[1]));
  await waitFor('the done transfer after a reload', 10000, async () =>
      (await transfer.getAttribute('data-state').catch(() => null)) === 'done');
  if (outside.length)
    throw new Error(`the UI asked for other hosts: ${outside.join(' ')}`);
  if (problems.length) throw new Error(problems.join('; '));
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  report(e);
}
clearTimeout(deadline);
await stopAll();
for (const n of nodes)
  if (!failed && n.exit.code !== 0) {
    failed = true;
    report(new Error(`${n.name} exited ${JSON.stringify(n.exit)} after SIGINT`));
  }
fs.rmSync(tmp, {recursive: true, force: true});
if (!failed) console.log(`e2e ui: ok (screenshot in ${opt.screenshot})`);
process.exit(failed ? 1 : 0);
