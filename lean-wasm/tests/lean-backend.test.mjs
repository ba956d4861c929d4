// The shell with the REAL backend (lean-wasm/kernel/backend_lean.c), linked through the CMake
// project's XLEAN_BACKEND=lean route, over a fake Lean: tests/fixtures/kernel/fake-lean stands
// in for lean.h, the Lean runtime and lean-wasm/XLean/Export.lean (none of which can be built
// here) with the C interface docs/kernel.md declares. It checks the start-up order, counts live
// Lean objects and aborts on a double free, so these tests exercise the real backend's calling
// conventions, IO-result unwrapping and error paths.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import {
  KernelSession,
  leanBackendModulePath,
  loadModule,
  skipUnless,
  streamText,
} from './kernel-harness.mjs';

const skip = skipUnless(leanBackendModulePath, 'XLEAN_TEST_LEAN_BACKEND_MODULE');
let k;

before(async () => {
  if (skip) return;
  k = new KernelSession(await loadModule({ module: leanBackendModulePath }));
});

const live = () => Number(streamText(k.execute('live').outputs, 'stdout').match(/live: (\d+)/)[1]);

test('start-up runs in order and kernel_info reports the Lean version', { skip }, () => {
  // The fake aborts (and the module with it) if lean_initialize, initialize_XLean(1),
  // lean_io_mark_end_initialization and xlean_init come in another order.
  const c = k.request('kernel_info_request', {}).reply.content;
  assert.equal(c.status, 'ok');
  assert.equal(c.language_info.name, 'lean4');
  assert.equal(c.language_info.version, '4.28.0-fake', 'from xlean_info');
});

test('execute: the cell reaches Lean and its reply is published', { skip }, () => {
  const r = k.execute('#check Nat');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(streamText(r.outputs, 'stdout'), '1:0: info: echo: #check Nat\n');
  const p = k.execute('print from IO.println');
  assert.equal(streamText(p.outputs, 'stdout'), 'from IO.println\n1:0: info: echo: print from IO.println\n');
});

test('an IO error from Lean becomes an error reply', { skip }, () => {
  const r = k.execute('io-error');
  assert.equal(r.reply.content.status, 'error');
  assert.equal(r.reply.content.ename, 'xlean.LeanIOError');
  assert.match(r.reply.content.evalue, /xlean_execute failed: fake IO failure/);
  assert.deepEqual(r.statuses, ['busy', 'idle']);
});

test('complete, inspect and is_complete pass code and code-point cursors through', { skip }, () => {
  const c = k.request('complete_request', { code: 'αβγ', cursor_pos: 2 }).reply.content;
  assert.deepEqual(c.matches, ['cursor2']);
  assert.equal(c.cursor_start, 0);
  assert.equal(c.cursor_end, 2);
  // Abbreviations are the shell's, whichever the backend: `\to` is answered before Lean is asked.
  const a = k.request('complete_request', { code: 'p \\to', cursor_pos: 5 }).reply.content;
  assert.deepEqual([a.matches, a.cursor_start, a.cursor_end], [['→'], 2, 5]);
  const i = k.request('inspect_request', { code: 'Nat.succ', cursor_pos: 3, detail_level: 0 }).reply.content;
  assert.equal(i.found, true);
  assert.equal(i.data['text/plain'], 'Nat.succ @3');
  assert.equal(k.request('is_complete_request', { code: 'def f :=' }).reply.content.status, 'incomplete');
  assert.equal(k.request('is_complete_request', { code: 'def f := 1' }).reply.content.status, 'complete');
});

test('no Lean object leaks across requests', { skip }, () => {
  const before = live();
  for (let i = 0; i < 20; i++) {
    k.execute(`cell ${i}`);
    k.execute('io-error');
    k.request('complete_request', { code: 'Na', cursor_pos: 2 });
    k.request('inspect_request', { code: 'Nat', cursor_pos: 1, detail_level: 0 });
    k.request('is_complete_request', { code: 'x' });
    k.request('kernel_info_request', {});
  }
  assert.equal(live(), before);
});

test('a failed xlean_init is reported on execute', { skip }, async () => {
  const s = new KernelSession(await loadModule({ module: leanBackendModulePath }), [
    'xlean',
    '--backend-options={"search_path": "fail"}',
  ]);
  const r = s.execute('#eval 1');
  assert.equal(r.reply.content.status, 'error');
  assert.equal(r.reply.content.ename, 'xlean.InitError');
  assert.match(r.reply.content.evalue, /no Init\.olean on the search path/);
});
