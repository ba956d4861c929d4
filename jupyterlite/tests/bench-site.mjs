// The load-time bench's driver: opens the site in headless Chromium on a slow network, a cold
// visit (fresh profile), then a warm and a hot one (same profile, new pages), and prints one line
// `bench-site-visit {json}` per visit; then the same three visits without instrumentation
// (`bench-site-bare {json}`). Run by `cargo xtask bench site` (xtask/src/bench/site.rs),
// which serves the site on free 127.0.0.1 ports, prints the table and sets:
//
//   XLEAN_SITE_URL         http://127.0.0.1:PORT/, served as fast as loopback
//   XLEAN_CHROMIUM         the browser (Debian's /usr/bin/chromium)
//   XLEAN_PLAYWRIGHT_CORE  the unpacked npm playwright-core package
//   XLEAN_BENCH_NETWORKS   [{"mbit", "rtt_ms", "url"}, ...]: one Chromium profile each, on the
//                          site at `url`, whose server imitates that network
//
// The network is the server's, not Chromium's: DevTools' Network.emulateNetworkConditions caps
// a large streamed response far below its nominal rate (docs/lite.md, "Load time"), so this
// driver emulates nothing. Playwright launches Chromium; everything else speaks the DevTools
// protocol itself, over a second connection (--remote-debugging-port), because the kernel's
// module and bundles are fetched by a dedicated worker and playwright's CDP sessions cannot
// reach a worker's target. Every target (the page, its workers, service workers) is
// auto-attached paused (`waitForDebuggerOnStart`), gets `Network.enable`, and only then runs: no
// request of any of them escapes the byte count.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bounded, CHROMIUM_FLAGS } from './chromium.mjs';

const siteUrl = process.env.XLEAN_SITE_URL;
const chromiumPath = process.env.XLEAN_CHROMIUM || '/usr/bin/chromium';
const playwrightDir = process.env.XLEAN_PLAYWRIGHT_CORE;
const networks = JSON.parse(process.env.XLEAN_BENCH_NETWORKS || '[]');
if (!siteUrl || !playwrightDir || networks.length === 0) {
  console.error('XLEAN_SITE_URL, XLEAN_PLAYWRIGHT_CORE and XLEAN_BENCH_NETWORKS must be set: run this through `cargo xtask bench site`');
  process.exit(2);
}

// Bounds (ms) of one visit's stages; the stand-in bundles are ~100 MB on a 20 Mbit/s link.
const PAGE_LOAD_MS = 300_000;
const KERNEL_READY_MS = 600_000;
const ANSWER_MS = 120_000;
// The visits of one profile: a first one, a return (Chromium compiles the scripts it saw before
// again and keeps their code) and a third (it uses that code).
const VISITS = ['cold', 'warm', 'hot'];
// How often the heaps are sampled during a visit.
const HEAP_SAMPLE_MS = 250;

/** A DevTools protocol connection with flat sessions: `send(method, params, sessionId)`. */
async function connectCdp(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot open the DevTools socket ${url}`));
  });
  let nextId = 1;
  const pending = new Map();
  const listeners = [];
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
      else p?.resolve(msg.result);
    } else {
      for (const l of listeners) l(msg.method, msg.params, msg.sessionId);
    }
  };
  return {
    send(method, params = {}, sessionId = undefined) {
      const id = nextId++;
      ws.send(JSON.stringify({ id, method, params, sessionId }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
    },
    on(listener) {
      listeners.push(listener);
    },
    close() {
      ws.close();
    },
  };
}

/** The browser endpoint Chromium wrote into the profile (`--remote-debugging-port=0`). */
async function devtoolsUrl(profileDir) {
  const file = path.join(profileDir, 'DevToolsActivePort');
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(file)) {
      const [port, wsPath] = fs.readFileSync(file, 'utf8').split('\n');
      if (port && wsPath) return `ws://127.0.0.1:${port}${wsPath}`;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Chromium wrote no ${file}`);
}

const AUTO_ATTACH = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
const NETWORK_TARGETS = new Set(['page', 'iframe', 'worker', 'service_worker', 'shared_worker']);

/**
 * Attaches to every target as it appears (and, through each, to its workers) and counts its
 * traffic into `state.visit` (the visit under way, if any).
 */
async function instrument(cdp, state) {
  state.sessions = new Map(); // sessionId -> { type, targetId, counted }
  state.counting = new Map(); // targetId -> the sessionId its traffic is counted through
  cdp.on(async (method, params, sessionId) => {
    if (method === 'Target.attachedToTarget') {
      const { sessionId: sid, targetInfo } = params;
      const type = targetInfo.type;
      // Sent in order without waiting: a paused worker answers only once it runs, and its
      // session handles them in order, so the counting is on before its first request.
      const setup = NETWORK_TARGETS.has(type)
        ? [
            cdp.send('Runtime.enable', {}, sid),
            cdp.send('Network.enable', {}, sid),
            cdp.send('Target.setAutoAttach', AUTO_ATTACH, sid),
          ]
        : [];
      const run = cdp.send('Runtime.runIfWaitingForDebugger', {}, sid).catch(() => {});
      if (setup.length) {
        // A target attached twice (a service worker: from the browser and from its page) is
        // counted through one session only.
        const counted = !state.counting.has(targetInfo.targetId);
        if (counted) state.counting.set(targetInfo.targetId, sid);
        state.sessions.set(sid, { type, targetId: targetInfo.targetId, counted });
        await Promise.all(setup).catch(() => {});
      }
      await run;
      state.attached?.(targetInfo.targetId, sid);
    } else if (method === 'Target.detachedFromTarget') {
      const s = state.sessions.get(params.sessionId);
      if (s?.counted) state.counting.delete(s.targetId);
      state.sessions.delete(params.sessionId);
    } else if (method === 'Runtime.consoleAPICalled' || method === 'Runtime.exceptionThrown') {
      state.log.push(browserLogLine(state.sessions.get(sessionId)?.type, method, params));
    } else if (method === 'Network.loadingFailed') {
      state.log.push(`[${state.sessions.get(sessionId)?.type} request failed] ${params.requestId}: ${params.errorText}`);
    } else if (state.visit && sessionId && state.sessions.get(sessionId)?.counted) {
      countTraffic(state.visit, state.sessions.get(sessionId).type, sessionId, method, params);
    }
  });
  await cdp.send('Target.setAutoAttach', AUTO_ATTACH);
}

/** One line of what a target said (console) or threw, for failure messages. */
function browserLogLine(type, method, params) {
  if (method === 'Runtime.exceptionThrown') {
    const d = params.exceptionDetails;
    return `[${type} exception] ${d.exception?.description ?? d.text}`;
  }
  const args = params.args.map((a) => a.value ?? a.description ?? a.type).join(' ');
  return `[${type} ${params.type}] ${args}`;
}

/** Adds one network event of a target to the visit's counts. */
function countTraffic(visit, type, sessionId, method, params) {
  const key = `${sessionId}:${params.requestId}`;
  if (method === 'Network.requestWillBeSent') {
    visit.requests.set(key, { url: params.request.url, type, start: params.timestamp, network: true });
  } else if (method === 'Network.requestServedFromCache') {
    const r = visit.requests.get(key);
    if (r) r.network = false;
  } else if (method === 'Network.responseReceived') {
    const r = visit.requests.get(key);
    const res = params.response;
    if (r && (res.fromDiskCache || res.fromServiceWorker || res.fromPrefetchCache)) r.network = false;
  } else if (method === 'Network.loadingFinished') {
    const r = visit.requests.get(key);

    if (!r) return;
    r.bytes = params.encodedDataLength;
    r.end = params.timestamp;
  }
}

/** The largest heaps seen: the page's (main thread) and the sum over its workers. */
async function sampleHeaps(cdp, state, peaks) {
  let workers = 0;
  for (const [sid, s] of state.sessions) {
    if (!s.counted || (s.type !== 'page' && s.type !== 'worker')) continue;
    const heap = await cdp.send('Runtime.getHeapUsage', {}, sid).catch(() => null);
    if (!heap) continue;
    // usedSize: the JS heap; backingStorageSize: ArrayBuffers outside it (wasm memory, files).
    const bytes = heap.usedSize + (heap.backingStorageSize ?? 0);
    if (s.type === 'page' && s.targetId === state.pageTarget) peaks.page = Math.max(peaks.page, bytes);
    if (s.type === 'worker') workers += bytes;
  }
  peaks.workers = Math.max(peaks.workers, workers);
}

/** Evaluates `expression` (an async function's source, called) in the page; returns its value. */
async function evaluate(cdp, sid, expression, ms, what) {
  const r = await bounded(
    cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sid),
    ms,
    what,
  );
  if (r.exceptionDetails) {
    throw new Error(`${what}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  }
  return r.result.value;
}

// In the page: wait for JupyterLab to list the xlean kernel; start it (as a notebook does) and
// wait for its kernel_info reply; run the first cell.
const LISTED = `(async () => {
  while (!window.jupyterapp?.serviceManager?.kernelspecs?.specs?.kernelspecs?.xlean)
    await new Promise((r) => setTimeout(r, 50));
})()`;
const KERNEL_READY = `(async () => {
  const phases = {};
  const channel = new BroadcastChannel('xlean-progress');
  channel.onmessage = (m) => { phases[m.data.phase] ??= performance.now(); };
  phases.listed = performance.now();
  const kernel = await window.jupyterapp.serviceManager.kernels.startNew({ name: 'xlean' });
  window.__xleanKernel = kernel;
  const info = await kernel.info;
  phases.info = performance.now();
  channel.close();
  return { status: info.status, language: info.language_info.name, version: info.language_info.version, phases };
})()`;
const firstCell = (code) => `(async () => {
  let text = '';
  const future = window.__xleanKernel.requestExecute({ code: ${JSON.stringify(code)} });
  future.onIOPub = (msg) => { if (msg.header.msg_type === 'stream') text += msg.content.text; };
  const reply = await future.done;
  return { status: reply.content.status, text };
})()`;

/** Opens a new page, waits until it is attached and counted, and returns its session. */
async function newPage(cdp, state) {
  let targetId;
  const attached = new Map();
  const ready = new Promise((resolve) => {
    state.attached = (tid, sid) => {
      attached.set(tid, sid);
      if (tid === targetId) resolve(sid);
    };
  });
  ({ targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' }));
  const sid = attached.get(targetId) ?? (await bounded(ready, 10_000, 'attaching to the new page'));
  state.pageTarget = targetId;
  // A tab in the background gets no animation frames, which JupyterLab's layout waits for.
  await cdp.send('Page.bringToFront', {}, sid);
  await cdp.send('Page.enable', {}, sid);
  return { targetId, sid };
}

/**
 * One visit: page load, kernel ready, first cell answered, then (when the site has bundles) a
 * cell importing from every bundle answered; what it transferred and its heaps.
 */
async function visit(cdp, state, kind, cell, url) {
  state.visit = { requests: new Map() };
  const peaks = { page: 0, workers: 0 };
  const { targetId, sid } = await newPage(cdp, state);
  const sampler = setInterval(() => sampleHeaps(cdp, state, peaks).catch(() => {}), HEAP_SAMPLE_MS);
  try {
    const loaded = new Promise((resolve) =>
      cdp.on((method, _p, s) => method === 'Page.loadEventFired' && s === sid && resolve()),
    );
    const t0 = performance.now();
    await cdp.send('Page.navigate', { url: new URL('lab/index.html', url).href }, sid);
    await bounded(loaded, PAGE_LOAD_MS, 'loading lab/index.html');
    const loadMs = performance.now() - t0;
    const run = (expression, ms, what) => evaluate(cdp, sid, expression, ms, what);
    const steps = await kernelSteps(run, t0, cell);
    await sampleHeaps(cdp, state, peaks);
    return { kind, loadMs, ...steps, peaks, ...traffic(state.visit) };
  } finally {
    clearInterval(sampler);
    state.visit = null;
    await cdp.send('Target.closeTarget', { targetId }).catch(() => {});
  }
}

/**
 * In a loaded page (`run(expression, ms, what)` evaluates there): the kernel started and ready,
 * the first cell answered, then (when the site has bundles) a cell importing from every bundle
 * answered; each time in ms since `t0`, and the steps of the kernel's start (page clock).
 */
async function kernelSteps(run, t0, cell) {
  await run(LISTED, PAGE_LOAD_MS, 'waiting for the kernel list');
  const info = await run(KERNEL_READY, KERNEL_READY_MS, 'starting the xlean kernel');
  if (info.status !== 'ok') throw new Error(`kernel_info status ${info.status}`);
  const readyMs = performance.now() - t0;
  const answer = await run(firstCell(cell.code), ANSWER_MS, `running ${cell.code}`);
  if (answer.status !== 'ok' || !answer.text.includes(cell.expect)) {
    throw new Error(`the first cell ${JSON.stringify(cell.code)} answered ${JSON.stringify(answer)}`);
  }
  const answerMs = performance.now() - t0;
  // Then a cell that imports from every bundle: the kernel fetches and unpacks them now.
  let importMs = null;
  if (cell.imports) {
    const imported = await run(firstCell(cell.imports), ANSWER_MS, `running ${cell.imports}`);
    if (imported.status !== 'ok') throw new Error(`the cell ${JSON.stringify(cell.imports)} answered ${JSON.stringify(imported)}`);
    importMs = performance.now() - t0;
  }
  return { readyMs, answerMs, importMs, phases: info.phases, kernelVersion: info.version };
}

/**
 * Bytes and requests that went to the network (what a cache or the service worker answered is
 * counted where the service worker fetched it), and the kernel module's and the largest fetch:
 * their speed shows whether the server's shaping held.
 */
function traffic(v) {
  const fromNetwork = [...v.requests.values()].filter((r) => r.end !== undefined && r.network);
  const fetch = (r) => r && { url: new URL(r.url).pathname, by: r.type, bytes: r.bytes, ms: (r.end - r.start) * 1000 };
  const workers = fromNetwork.filter((r) => r.type !== 'page' && r.type !== 'iframe');
  return {
    bytes: fromNetwork.reduce((n, r) => n + r.bytes, 0),
    requests: fromNetwork.length,
    workerBytes: workers.reduce((n, r) => n + r.bytes, 0),
    wasm: fetch(fromNetwork.find((r) => /\/xlean\.wasm$/.test(new URL(r.url).pathname))),
    largest: fetch(fromNetwork.reduce((a, r) => (a && a.bytes >= r.bytes ? a : r), null)),
  };
}

/** The first cell for the site's kernel backend, and what its answer holds. */
async function firstCellOf() {
  const kernels = await (await fetch(new URL('xeus/kernels.json', siteUrl))).json();
  const entry = kernels.find((k) => k.kernel === 'xlean');
  if (!entry) throw new Error(`xeus/kernels.json lists no xlean kernel: ${JSON.stringify(kernels)}`);
  const spec = await (await fetch(new URL(`xeus/${entry.env_name}/xlean/kernel.json`, siteUrl))).json();
  const cell =
    spec.metadata?.xlean?.backend === 'test'
      ? { code: 'eval 1 + 2', expect: '3' }
      : { code: '#eval 1 + 1', expect: '2' };
  // The bundles the site ships (build --bundles): a second cell imports from each of them.
  const list = await fetch(new URL(`xeus/${entry.env_name}/bin/xlean-bundles.json`, siteUrl));
  if (list.ok) {
    const roots = ((await list.json()).bundles ?? []).flatMap((b) => b.provides ?? []);
    if (roots.length) cell.imports = `${roots.map((r) => `import ${r}`).join('\n')}\n${cell.code}`;
  }
  return cell;
}

async function benchNetwork(chromium, { url, ...network }, cell) {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlean-bench-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [...CHROMIUM_FLAGS, '--remote-debugging-port=0'],
    timeout: 60_000,
  });
  let cdp;
  try {
    cdp = await connectCdp(await devtoolsUrl(profileDir));
    const state = { visit: null, log: [] };
    await instrument(cdp, state);
    for (const kind of VISITS) {
      const result = await visit(cdp, state, kind, cell, url).catch((e) => {
        e.message += `\n--- the browser's console and exceptions (last 100) ---\n${state.log.slice(-100).join('\n')}`;
        throw e;
      });
      console.log(`bench-site-visit ${JSON.stringify({ network, ...result })}`);
    }
  } finally {
    cdp?.close();
    await context.close().catch(() => {});
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

/**
 * The same three visits with nothing of the DevTools protocol but playwright's page: no target
 * paused or counted, no heaps sampled, the unshaped server (as fast as loopback). What the
 * visits above cost in instrumentation shows here, and the work of this machine that no network
 * can speed up (compiling, starting, unpacking): the xtask adds it to each visit's target. One
 * line `bench-site-bare {json}` per visit.
 */
async function benchBare(chromium, cell) {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlean-bench-bare-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 60_000,
  });
  try {
    for (const kind of VISITS) {
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(new URL('lab/index.html', siteUrl).href, { timeout: PAGE_LOAD_MS });
      const run = (expression, ms, what) => bounded(page.evaluate(expression), ms, what);
      const steps = await kernelSteps(run, t0, cell);
      console.log(`bench-site-bare ${JSON.stringify({ kind, ...steps })}`);
      await page.close();
    }
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profileDir, { recursive: true, force: true });
  }
}

const require = createRequire(import.meta.url);
const { chromium } = require(playwrightDir);
const cell = await firstCellOf();
for (const network of networks) await benchNetwork(chromium, network, cell);
await benchBare(chromium, cell);
