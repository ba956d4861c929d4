// The JupyterLite site in headless Chromium: the page loads, lists the xlean kernel, starts it
// through JupyterLab's own service manager (window.jupyterapp.serviceManager, as a notebook
// does), runs cells and checks what they show. Run by `cargo xtask lite --browser-test` (or
// `lite::browser_test` from `ci`), which serves the site on a free 127.0.0.1 port and sets:
//
//   XLEAN_SITE_URL         http://127.0.0.1:PORT/
//   XLEAN_CHROMIUM         the browser (Debian's /usr/bin/chromium)
//   XLEAN_PLAYWRIGHT_CORE  the unpacked npm playwright-core package
//
// Which kernel the site has is read from the site itself (xeus/kernels.json and the kernel's
// kernel.json metadata): with the test backend (lean-wasm/kernel/backend_test.c) the cells are
// that backend's commands; with the real Lean backend they are Lean. Every wait is bounded; when
// a test fails, its error carries the browser's console, page errors and failed requests.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { bounded, CHROMIUM_FLAGS } from './chromium.mjs';

const siteUrl = process.env.XLEAN_SITE_URL;
const chromiumPath = process.env.XLEAN_CHROMIUM || '/usr/bin/chromium';
const playwrightDir = process.env.XLEAN_PLAYWRIGHT_CORE;
const skip =
  !siteUrl || !playwrightDir
    ? 'XLEAN_SITE_URL and XLEAN_PLAYWRIGHT_CORE are not set: run this through `cargo xtask lite --browser-test`'
    : false;

// Bounds (ms). The real kernel's module is ~0.5 GB: loading it takes longer than the test one.
const PAGE_LOAD_MS = 60_000;
const KERNEL_LISTED_MS = 60_000;
const KERNEL_START_MS = { test: 60_000, lean: 300_000 };
const EXECUTE_MS = { test: 30_000, lean: 300_000 };

// The one request the site makes outside itself, and it is upstream's: @jupyterlite/xeus 5.1.0
// bundles mambajs, which fetches this pip<->conda name map when its chunk loads (for `%pip
// install`, which the xlean kernel has no use for). Offline it fails and nothing depends on it;
// any other request outside the site fails the test.
const UPSTREAM_MAPPING_FETCH =
  'https://raw.githubusercontent.com/prefix-dev/parselmouth/main/files/compressed_mapping.json';

let context;
let page;
let profileDir;
let backend;
let envName;
let kernelInfo;
const consoleLines = [];
const externalRequests = [];
const failedRequests = [];
// Every bundle the page fetched (a `.tar.gz` of the kernel's folder), in order.
const bundleRequests = [];

/** What the browser said, for failure messages. */
function browserLog() {
  const parts = [];
  parts.push(`--- browser console and page errors (${consoleLines.length} lines) ---`);
  parts.push(...consoleLines.slice(-200));
  if (failedRequests.length) parts.push('--- failed requests ---', ...failedRequests);
  if (externalRequests.length) parts.push('--- requests outside the site ---', ...externalRequests);
  return parts.join('\n');
}

/** Runs `body`; if it throws, the error carries the browser's log. */
async function withBrowserLog(body) {
  try {
    return await body();
  } catch (e) {
    e.message = `${e.message}\n${browserLog()}`;
    throw e;
  }
}

/** Reads a JSON file of the site from Node (not through the page). */
async function siteJson(rel) {
  const res = await bounded(fetch(new URL(rel, siteUrl)), 10_000, `GET ${rel}`);
  assert.equal(res.status, 200, `GET ${rel}`);
  return res.json();
}

/** Runs one cell in the page's kernel; returns the reply content and the outputs it showed. */
async function execute(code) {
  if (!kernelInfo) throw new Error('no kernel to run cells in: it did not start (see the test before)');
  const t0 = performance.now();
  const r = await bounded(
    page.evaluate(async (code) => {
      const outputs = [];
      const future = window.__xleanKernel.requestExecute({ code, stop_on_error: false });
      future.onIOPub = (msg) => {
        const type = msg.header.msg_type;
        if (type !== 'status' && type !== 'execute_input') outputs.push({ type, content: msg.content });
      };
      const reply = await future.done;
      return { reply: reply.content, outputs };
    }, code),
    EXECUTE_MS[backend],
    `executing ${JSON.stringify(code)}`,
  );
  r.ms = performance.now() - t0;
  return r;
}

const streamText = (outputs, name = 'stdout') =>
  outputs
    .filter((o) => o.type === 'stream' && o.content.name === name)
    .map((o) => o.content.text)
    .join('');

const figure = (t, text) => t.diagnostic(`figure: ${text}`);
// One figure for the acceptance report: `timing <name> <ms>` (read by the xtask).
const timing = (t, name, ms) => t.diagnostic(`timing ${name} ${ms.toFixed(1)}`);

// ---- Notebooks in the UI, as a user has them (helpers for every test that types in cells) ----

/** The selector of the notebook panel whose DOM id is `id`. */
const notebookSelector = (id) => `[id="${id}"]`;

/**
 * Opens a new notebook on the xlean kernel through JupyterLab's own command (as File > New >
 * Notebook does); returns its panel's DOM id once its model is ready.
 */
async function openNewNotebook() {
  return bounded(
    page.evaluate(async () => {
      const panel = await window.jupyterapp.commands.execute('notebook:create-new', { kernelName: 'xlean' });
      await panel.context.ready;
      return panel.id;
    }),
    KERNEL_START_MS[backend],
    'opening a new notebook on the xlean kernel',
  );
}

/** Types `text` into a new cell at the end of notebook `id` (its last cell when that is empty), key by key. */
async function typeInNewCell(id, text) {
  const cells = page.locator(`${notebookSelector(id)} .jp-Cell`);
  await cells.last().waitFor({ timeout: 10_000 });
  if ((await cellText(id)) !== '') {
    await cells.last().click();
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:insert-cell-below'));
  }
  const editor = cells.last().locator('.cm-content');
  await editor.click();
  await page.keyboard.type(text);
}

/** The spans of the last line of the last editor matching `editor`: their text and classes. */
async function lastLineSpans(editor) {
  return page.evaluate((editor) => {
    const editors = document.querySelectorAll(editor);
    const lines = editors[editors.length - 1]?.querySelectorAll('.cm-line') ?? [];
    const spans = lines.length ? lines[lines.length - 1].querySelectorAll('span') : [];
    return Array.from(spans, (s) => ({ text: s.textContent, classes: s.className }));
  }, editor);
}

/** The source of cell `index` (-1: the last) of notebook `id`, from the notebook's model. */
async function cellText(id, index = -1) {
  return page.evaluate(
    ({ id, index }) => {
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find((w) => w.id === id);
      if (!panel) throw new Error(`no notebook panel ${id} in the main area`);
      const cells = panel.content.widgets;
      return cells[index < 0 ? cells.length + index : index].model.sharedModel.getSource();
    },
    { id, index },
  );
}

before(async () => {
  if (skip) return;
  // The kernel the site holds, from the site's own files.
  const kernels = await siteJson('xeus/kernels.json');
  const entry = kernels.find((k) => k.kernel === 'xlean');
  assert.ok(entry, `xeus/kernels.json lists no xlean kernel: ${JSON.stringify(kernels)}`);
  const spec = await siteJson(`xeus/${entry.env_name}/xlean/kernel.json`);
  envName = entry.env_name;
  backend = spec.metadata?.xlean?.backend;
  assert.ok(['test', 'lean'].includes(backend), `kernel.json metadata.xlean.backend: ${backend}`);
  console.log(`kernel backend: ${backend} (${spec.display_name})`);

  const require = createRequire(import.meta.url);
  const { chromium } = require(playwrightDir);
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlean-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 60_000,
  });
  context.on('console', (m) =>
    consoleLines.push(`[${m.worker() ? 'worker ' : ''}${m.type()}] ${m.text()}`),
  );
  context.on('weberror', (e) => consoleLines.push(`[page error] ${e.error()}`));
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(siteUrl) && !/^(data|blob):/.test(url)) externalRequests.push(url);
    if (url.endsWith('.tar.gz')) bundleRequests.push(url);
  });
  // Everything the progress display (jupyterlite/extension/progress.js) shows, recorded from
  // the first moment of every page, so even a load too fast to watch leaves its trace.
  await context.addInitScript(() => {
    window.__xleanProgressSeen = [];
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        const display = node?.closest?.('.xlean-progress');
        if (!display) continue;
        window.__xleanProgressSeen.push({
          phase: display.dataset.phase ?? '',
          text: display.textContent,
          hidden: display.hidden,
        });
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  context.on('requestfailed', (r) => failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`));
  context.on('response', (r) => {
    if (r.status() >= 400) failedRequests.push(`${r.url()}: HTTP ${r.status()}`);
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close().catch(() => {});
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
});

test('the page loads and lists the xlean kernel as the default', { skip }, async (t) => {
  await withBrowserLog(async () => {
    const t0 = performance.now();
    await page.goto(new URL('lab/index.html', siteUrl).href, {
      waitUntil: 'load',
      timeout: PAGE_LOAD_MS,
    });
    const loaded = performance.now() - t0;
    await page.waitForFunction(
      () => window.jupyterapp?.serviceManager?.kernelspecs?.specs?.kernelspecs?.xlean,
      null,
      { timeout: KERNEL_LISTED_MS, polling: 50 },
    );
    const listed = performance.now() - t0;
    const specs = await page.evaluate(() => {
      const s = window.jupyterapp.serviceManager.kernelspecs.specs;
      return { default: s.default, xlean: s.kernelspecs.xlean };
    });
    assert.equal(specs.default, 'xlean');
    assert.equal(specs.xlean.language, 'lean4');
    if (backend === 'test') assert.match(specs.xlean.display_name, /test backend/);
    figure(t, `page load ${loaded.toFixed(0)} ms, page load to kernel listed ${listed.toFixed(0)} ms`);
  });
});

test('the kernel starts and answers kernel_info (language lean4)', { skip }, async (t) => {
  await withBrowserLog(async () => {
    const t0 = performance.now();
    kernelInfo = await bounded(
      page.evaluate(async () => {
        const kernel = await window.jupyterapp.serviceManager.kernels.startNew({ name: 'xlean' });
        window.__xleanKernel = kernel;
        const info = await kernel.info;
        return JSON.parse(JSON.stringify(info));
      }),
      KERNEL_START_MS[backend],
      'starting the xlean kernel and waiting for its kernel_info',
    );
    const ms = performance.now() - t0;
    assert.equal(kernelInfo.status, 'ok');
    assert.equal(kernelInfo.implementation, 'xlean');
    assert.equal(kernelInfo.language_info.name, 'lean4');
    if (backend === 'test') assert.equal(kernelInfo.language_info.version, '0.0.0-test');
    else assert.match(kernelInfo.language_info.version, /^4\./);
    timing(t, 'kernel-ready', ms);
    figure(t, `kernel start ${ms.toFixed(0)} ms (${backend} backend, language_info.version ${kernelInfo.language_info.version})`);
  });
});

test('a cell that computes shows its result', { skip }, async (t) => {
  await withBrowserLog(async () => {
    if (backend === 'test') {
      const r = await execute('eval 1 + 2');
      assert.equal(r.reply.status, 'ok');
      assert.equal(streamText(r.outputs), '1:0: info: 3\n');
      timing(t, 'first-cell-answered', r.ms);
      figure(t, `execute ${r.ms.toFixed(1)} ms`);
    } else {
      const first = await execute('#eval 1 + 1');
      assert.equal(first.reply.status, 'ok');
      assert.match(streamText(first.outputs), /^1:0: info: 2$/m);
      timing(t, 'first-cell-answered', first.ms);
      const check = await execute('#check Nat');
      assert.equal(check.reply.status, 'ok');
      assert.match(streamText(check.outputs), /Nat : Type/);
      figure(t, `first #eval ${first.ms.toFixed(0)} ms, #check ${check.ms.toFixed(0)} ms`);
    }
  });
});

test('a failing cell has error status and an error output', { skip }, async () => {
  await withBrowserLog(async () => {
    const code = backend === 'test' ? 'error boom' : '#eval (1 : Nat) + "two"';
    const r = await execute(code);
    assert.equal(r.reply.status, 'error');
    const errors = r.outputs.filter((o) => o.type === 'error');
    assert.equal(errors.length, 1, 'one error output');
    if (backend === 'test') assert.equal(errors[0].content.evalue, '1:0: error: boom');
    else assert.match(errors[0].content.evalue, /^1:\d+: error: /);
  });
});

test('what the code prints arrives as a stdout stream', { skip }, async () => {
  await withBrowserLog(async () => {
    const code = backend === 'test' ? 'print hello from the browser' : '#eval IO.println "hello from the browser"';
    const r = await execute(code);
    assert.equal(r.reply.status, 'ok');
    assert.match(streamText(r.outputs), /hello from the browser\n/);
  });
});

test('rich output arrives as display_data', { skip }, async () => {
  await withBrowserLog(async () => {
    const code =
      backend === 'test'
        ? 'display text/html <b>bold</b>'
        : 'import XLean.Display\n#eval XLean.Display.html "<b>bold</b>"';
    const r = await execute(code);
    assert.equal(r.reply.status, 'ok');
    const shown = r.outputs.filter((o) => o.type === 'display_data');
    assert.equal(shown.length, 1, JSON.stringify(r.outputs));
    assert.equal(shown[0].content.data['text/html'], '<b>bold</b>');
  });
});

test('state carries over from cell to cell', { skip }, async () => {
  await withBrowserLog(async () => {
    if (backend === 'test') {
      const before = Number(streamText((await execute('count')).outputs).match(/info: (\d+)/)[1]);
      const after = Number(streamText((await execute('count')).outputs).match(/info: (\d+)/)[1]);
      assert.equal(after, before + 1);
    } else {
      assert.equal((await execute('def double (n : Nat) : Nat := 2 * n')).reply.status, 'ok');
      assert.match(streamText((await execute('#eval double 21')).outputs), /info: 42$/m);
    }
  });
});

test('a bundle (build --bundles) is fetched and unpacked when a cell first imports from it', { skip }, async (t) => {
  const res = await bounded(fetch(new URL(`xeus/${envName}/bin/xlean-bundles.json`, siteUrl)), 10_000, 'GET bundles');
  if (res.status === 404) {
    t.skip('the site has no bundles (its kernel was built without --bundles)');
    return;
  }
  assert.equal(res.status, 200);
  const list = await res.json();
  const std = list.bundles.find((b) => (b.provides ?? []).includes('Std'));
  assert.ok(std, `no bundle provides Std: ${JSON.stringify(list)}`);
  await withBrowserLog(async () => {
    // The kernel started and ran cells without fetching any bundle.
    assert.deepEqual(bundleRequests, [], 'no bundle fetched before a cell imports from one');
    if (backend === 'test') {
      const before = await execute('exists /lib/lean/Std.olean');
      assert.match(streamText(before.outputs), /info: \/lib\/lean\/Std\.olean: missing/);
      const r = await execute('import Std.Data\nexists /lib/lean/Std.olean');
      assert.equal(r.reply.status, 'ok', JSON.stringify(r.outputs));
      assert.match(streamText(r.outputs), /info: \/lib\/lean\/Std\.olean: \d+ bytes/);
      figure(t, `import Std (fetch, unpack, run) ${r.ms.toFixed(0)} ms`);
    } else {
      const r = await execute('import Std.Data.HashMap\n#check Std.HashMap');
      assert.equal(r.reply.status, 'ok', JSON.stringify(r.outputs));
    }
    assert.deepEqual(
      // A request may be reported twice (by the worker and by JupyterLite's service worker).
      [...new Set(bundleRequests.map((u) => u.split('/').pop()))],
      [std.file],
      'only the bundle that provides Std was fetched',
    );
  });
});

test('the page shows the kernel loading: phases, bytes, then ready and hidden', { skip }, async (t) => {
  await withBrowserLog(async () => {
    // The display hides itself a moment after "ready".
    await page.waitForFunction(() => document.querySelector('.xlean-progress')?.hidden === true, null, {
      timeout: 10_000,
    });
    const seen = await page.evaluate(() => window.__xleanProgressSeen);
    const shown = seen.filter((s) => !s.hidden);
    const texts = [...new Set(shown.map((s) => s.text))];
    assert.ok(
      // Some bytes (not 0), in the unit the size fills: kB for the test backend's module, MB for Lean's.
      shown.some(
        (s) => s.phase === 'download' && /^Downloading the kernel: (?!0 )\d+(\.\d)?( of \d+(\.\d)?)? [kM]?B$/.test(s.text),
      ),
      `the kernel's download with its bytes: ${JSON.stringify(texts)}`,
    );
    const phases = shown.map((s) => s.phase);
    assert.ok(phases.includes('ready'), `ready shown: ${JSON.stringify(phases)}`);
    assert.ok(
      phases.indexOf('download') < phases.indexOf('ready'),
      `downloading before ready: ${JSON.stringify(phases)}`,
    );
    if (bundleRequests.length) {
      // Std is unpacked while it downloads (with its bytes), then what is left after the last.
      assert.ok(
        texts.some((text) => /^Downloading and unpacking Std: \d+(\.\d)?( of \d+(\.\d)?)? [kM]?B$/.test(text)),
        `downloading and unpacking Std with its bytes shown: ${JSON.stringify(texts)}`,
      );
      assert.ok(texts.includes('Unpacking Std'), `unpacking Std shown: ${JSON.stringify(texts)}`);
    }
    assert.equal(seen.at(-1).hidden, true, 'the display ends hidden');
    figure(t, `progress shown: ${texts.slice(0, 3).join(' | ')} … ${texts.slice(-2).join(' | ')}`);
  });
});

test('a Lean cell is highlighted: keyword, comment and string carry token classes', { skip }, async (t) => {
  await withBrowserLog(async () => {
    const id = await openNewNotebook();
    // The cell editor got the language the kernel reports (its CodeMirror mode), which our
    // extension registered: CodeMirror names it in `data-language`.
    const mode = kernelInfo?.language_info?.codemirror_mode;
    assert.equal(mode, 'lean4', 'kernel_info language_info.codemirror_mode');
    const editor = `${notebookSelector(id)} .jp-Cell .cm-content[data-language="${mode}"]`;
    await page.locator(editor).last().waitFor({ timeout: KERNEL_START_MS[backend] });

    const code = 'theorem t : "a" = "a" := rfl -- done';
    await typeInNewCell(id, code);
    assert.equal(await cellText(id), code);
    // Spans by their text, with their classes (JupyterLab's own are generated names; the
    // `tok-*` ones come from the extension's class highlighter). Highlighting follows typing
    // within a frame or two: poll briefly.
    const expected = { theorem: 'tok-keyword', '"a"': 'tok-string', '-- done': 'tok-comment' };
    const has = (spans) =>
      Object.entries(expected).every(([text, cls]) =>
        spans.some((s) => s.text === text && s.classes.split(' ').includes(cls)),
      );
    let spans = [];
    for (const t0 = performance.now(); performance.now() - t0 < 10_000; ) {
      spans = await lastLineSpans(editor);
      if (has(spans)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(has(spans), `wanted ${JSON.stringify(expected)}, the line has ${JSON.stringify(spans)}`);
    // The extension shares the site's CodeMirror and registry: no module federation complaint.
    const unsatisfied = consoleLines.filter((l) => /Unsatisfied version/.test(l));
    assert.deepEqual(unsatisfied, [], 'shared modules the site could not satisfy');
    const shown = spans.filter((s) => s.text in expected).map((s) => `${s.text} = ${s.classes}`);
    figure(t, `highlighted spans: ${[...new Set(shown)].join('; ')}`);
  });
});

/** Waits until the kernel of notebook `id` has answered kernel_info (completion goes to it). */
async function notebookKernelReady(id) {
  await bounded(
    page.evaluate(async (id) => {
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find((w) => w.id === id);
      await panel.sessionContext.ready;
      await panel.sessionContext.session.kernel.info;
    }, id),
    KERNEL_START_MS[backend],
    'waiting for the notebook kernel',
  );
}

/** Polls `read` until `ok(value)` or 10 s; returns the last value. */
async function pollUntil(read, ok, ms = 10_000) {
  let value = await read();
  for (const t0 = performance.now(); !ok(value) && performance.now() - t0 < ms; ) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

test('typing Lean: \\and and \\to in a line become ∧ and → on Tab, Tab (the kernel\'s abbreviations)', { skip }, async (t) => {
  await withBrowserLog(async () => {
    const id = await openNewNotebook();
    await notebookKernelReady(id);
    const typed = String.raw`theorem t (p q : Prop) : p \and q \to q \and p := by`;
    await typeInNewCell(id, typed);
    assert.equal(await cellText(id), typed);
    // JupyterLab 4.6 shows even a single match as a one-entry list on the first Tab (its
    // Completer inserts only on the second Tab or Enter): the entry is the converted line, with
    // the abbreviations it replaced beside it.
    const t0 = performance.now();
    await page.keyboard.press('Tab');
    const items = page.locator('.jp-Completer:visible .jp-Completer-item');
    await items.first().waitFor({ timeout: 10_000 });
    const single = await items.evaluateAll((lis) =>
      lis.map((li) => ({
        label: li.querySelector('.jp-Completer-match')?.textContent,
        // JupyterLab shows the type lowercased; the item's title keeps it as sent.
        type: li.getAttribute('title'),
      })),
    );
    assert.deepEqual(single, [{ label: '∧ q → q ∧ p := by', type: String.raw`\and \to \and` }]);
    await page.keyboard.press('Tab');
    const want = 'theorem t (p q : Prop) : p ∧ q → q ∧ p := by';
    assert.equal(await pollUntil(() => cellText(id), (v) => v === want), want, 'the cell after Tab, Tab');
    figure(t, `Tab, Tab to the converted line ${(performance.now() - t0).toFixed(0)} ms`);

    // A beginning several abbreviations share: a list of symbols, each with its abbreviation.
    await typeInNewCell(id, String.raw`example : p \w`);
    await page.keyboard.press('Tab');
    await items.first().waitFor({ timeout: 10_000 });
    const shown = await items.evaluateAll((lis) =>
      lis.map((li) => ({ label: li.querySelector('.jp-Completer-match')?.textContent, type: li.getAttribute('title') })),
    );
    const wedge = shown.find((s) => s.label === '∧');
    assert.ok(wedge, `∧ in the list: ${JSON.stringify(shown)}`);
    assert.equal(wedge.type, String.raw`\wedge`);
    assert.ok(shown.length > 1 && shown.every((s) => s.type?.startsWith(String.raw`\w`)), JSON.stringify(shown));
    await items.filter({ hasText: '∧' }).first().click();
    assert.equal(await pollUntil(() => cellText(id), (v) => v === 'example : p ∧'), 'example : p ∧');
    figure(t, `list for \\w: ${shown.map((s) => `${s.label} ${s.type}`).join(', ')}`);
  });
});

test('the page asked for nothing outside the site but upstream\'s mapping fetch', { skip }, (t) => {
  const others = externalRequests.filter((url) => url !== UPSTREAM_MAPPING_FETCH);
  assert.deepEqual(others, [], browserLog());
  const upstream = externalRequests.length - others.length;
  if (upstream) t.diagnostic(`${upstream} request(s) for ${UPSTREAM_MAPPING_FETCH} (@jupyterlite/xeus, harmless offline)`);
});

// ---- Recovery: a cell that kills the kernel or never returns (test backend only) ----
// backend_test.c's `abort`, `oom` and `overflow` stop the module as Lean can (pre.js section 4
// answers the cell); `hang` never returns, and the kernel watchdog (jupyterlite/extension/
// kernel-watchdog.js) offers a restart after its limit, set short here through localStorage.

/** Runs `code` on the kernel of notebook `id`; the reply and outputs, or `{ cancelled }` when the
 * request ended without a reply (a restart disposes it). */
async function executeIn(id, code, ms = EXECUTE_MS[backend]) {
  return bounded(
    page.evaluate(
      async ({ id, code }) => {
        const panel = Array.from(window.jupyterapp.shell.widgets('main')).find((w) => w.id === id);
        const outputs = [];
        const future = panel.sessionContext.session.kernel.requestExecute({ code, stop_on_error: false });
        future.onIOPub = (msg) => {
          const type = msg.header.msg_type;
          if (type !== 'status' && type !== 'execute_input') outputs.push({ type, content: msg.content });
        };
        try {
          return { reply: (await future.done).content, outputs };
        } catch (e) {
          return { cancelled: String(e && e.message ? e.message : e), outputs };
        }
      },
      { id, code },
    ),
    ms,
    `executing ${JSON.stringify(code)} in notebook ${id}`,
  );
}

/** Restarts notebook `id`'s kernel as Kernel > Restart does (without the dialog); resolves when
 * the new kernel has answered kernel_info and the old worker is gone (a dead module's memory, or a
 * worker still spinning in a cell that never returns, must not outlive the restart). */
async function restartNotebookKernel(id) {
  const workers = page.workers().length;
  await bounded(
    page.evaluate(async (id) => {
      const panel = Array.from(window.jupyterapp.shell.widgets('main')).find((w) => w.id === id);
      await panel.sessionContext.restartKernel();
      await panel.sessionContext.session.kernel.info;
    }, id),
    KERNEL_START_MS[backend],
    `restarting the kernel of notebook ${id}`,
  );
  const after = await pollUntil(() => page.workers().length, (n) => n === workers);
  assert.equal(after, workers, 'the old kernel worker was terminated by the restart');
}

let recoveryNotebook;

for (const { command, why } of [
  { command: 'abort', why: /aborted \(abort\(\) was called\)/ },
  { command: 'oom', why: /exited with status 1/ },
  { command: 'overflow', why: /ran out of stack/ },
]) {
  test(`a cell that kills the kernel (\`${command}\`) ends with a readable error; after a restart the next cell answers`, { skip }, async (t) => {
    if (backend !== 'test') return t.skip('the trap commands are the test backend\'s');
    await withBrowserLog(async () => {
      recoveryNotebook ??= await openNewNotebook();
      const id = recoveryNotebook;
      await notebookKernelReady(id);
      const t0 = performance.now();
      const died = await executeIn(id, command);
      const errorMs = performance.now() - t0;
      assert.equal(died.reply?.status, 'error', JSON.stringify(died));
      assert.equal(died.reply.ename, 'xlean.KernelDied');
      assert.match(died.reply.evalue, why);
      assert.match(died.reply.evalue, /Restart Kernel/);
      const shown = died.outputs.filter((o) => o.type === 'error');
      assert.equal(shown.length, 1, `the cell shows one error: ${JSON.stringify(died.outputs)}`);
      // Until the restart, every cell gets the same error at once.
      const again = await executeIn(id, 'eval 1 + 1');
      assert.equal(again.reply?.evalue, died.reply.evalue);

      const t1 = performance.now();
      await restartNotebookKernel(id);
      const next = await executeIn(id, 'eval 1 + 2');
      const recoverMs = performance.now() - t1;
      assert.equal(next.reply?.status, 'ok', JSON.stringify(next));
      assert.equal(streamText(next.outputs), '1:0: info: 3\n');
      timing(t, `recover-${command}`, recoverMs);
      figure(t, `${command}: error shown after ${errorMs.toFixed(0)} ms; restart to the next answer ${recoverMs.toFixed(0)} ms`);
    });
  });
}

test('a cell that never returns: the watchdog says so and its Restart kernel brings the kernel back', { skip }, async (t) => {
  if (backend !== 'test') return t.skip('`hang` is the test backend\'s');
  await withBrowserLog(async () => {
    recoveryNotebook ??= await openNewNotebook();
    const id = recoveryNotebook;
    await notebookKernelReady(id);
    const LIMIT_S = 2;
    await page.evaluate((s) => localStorage.setItem('xlean:watchdog-seconds', String(s)), LIMIT_S);
    try {
      const t0 = performance.now();
      const hung = executeIn(id, 'hang', 120_000);
      const toast = page.locator('.Toastify__toast', { hasText: `has been working for ${LIMIT_S} s` });
      await toast.waitFor({ timeout: 30_000 });
      const warnedMs = performance.now() - t0;
      assert.ok(warnedMs >= LIMIT_S * 1000, `warned after ${warnedMs} ms, the limit is ${LIMIT_S} s`);
      const workers = page.workers().length;
      await toast.getByRole('button', { name: 'Restart kernel' }).click();
      // The hung request ends (the restart cancels it): the cell is not left running.
      const ended = await hung;
      assert.ok(ended.cancelled || ended.reply, JSON.stringify(ended));
      await notebookKernelReady(id);
      const after = await pollUntil(() => page.workers().length, (n) => n === workers);
      assert.equal(after, workers, 'the spinning worker was terminated by the restart');
      const next = await executeIn(id, 'eval 2 + 2');
      const recoverMs = performance.now() - t0 - warnedMs;
      assert.equal(streamText(next.outputs), '1:0: info: 4\n');
      timing(t, 'recover-hang', recoverMs);
      figure(t, `hang: watchdog notice after ${warnedMs.toFixed(0)} ms (limit ${LIMIT_S} s); Restart kernel to the next answer ${recoverMs.toFixed(0)} ms; the hung request: ${ended.cancelled ?? 'replied'}`);
    } finally {
      await page.evaluate(() => localStorage.removeItem('xlean:watchdog-seconds'));
    }
  });
});
