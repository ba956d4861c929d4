// Real Lean answers from an installed kernel built with the pinned Lean (backend `lean`):
// `cargo xtask test-node` runs this file against `<prefix>/bin/xlean.js` when the prefix's
// kernel.json says `"backend": "lean"`. It checks what a student would see, not just that
// nothing crashed. It cannot run where the official Lean toolchain cannot be installed (it needs
// the C and .olean files of v4.28.0); there it is skipped with that reason.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';

import { KernelSession, loadModule, skipUnless, streamText } from './kernel-harness.mjs';

const modulePath = process.env.XLEAN_LEAN_KERNEL;
const skip = skipUnless(modulePath, 'XLEAN_LEAN_KERNEL');
let k;

before(async () => {
  if (skip) return;
  k = new KernelSession(await loadModule({ module: modulePath }));
});

/** Every text a cell showed: streams, results and displays (text/plain), and errors. */
function shown(r) {
  return r.outputs
    .map((m) => m.content.text ?? m.content.data?.['text/plain'] ?? m.content.evalue ?? '')
    .join('\n');
}

/** Runs a cell that must succeed; returns what it showed. */
function ok(code) {
  const r = k.execute(code);
  assert.equal(r.reply.content.status, 'ok', `${code}\n${shown(r)}`);
  return shown(r);
}

test('#check Nat shows its type', { skip }, () => {
  assert.match(ok('#check Nat'), /Nat : Type/);
});

test('#eval 1 + 1 gives 2', { skip }, () => {
  assert.match(ok('#eval 1 + 1'), /(^|: )2\s*$/m);
});

test('a def and a theorem are usable in later cells', { skip }, () => {
  ok('def double (n : Nat) : Nat := n + n');
  ok('theorem double_two : double 2 = 4 := rfl');
  assert.match(ok('#check double_two'), /double_two : double 2 = 4/);
  assert.match(ok('#eval double 21'), /(^|: )42\s*$/m);
});

test('an error has its line:col, the error status and the message', { skip }, () => {
  const r = k.execute('#check Nat\n#check undefinedThing');
  assert.equal(r.reply.content.status, 'error', shown(r));
  assert.equal(r.reply.content.ename, 'Lean error');
  assert.match(shown(r), /2:7: error: unknown identifier 'undefinedThing'/);
  // The other message of the same cell is still shown.
  assert.match(shown(r), /Nat : Type/);
});

test('IO.println output reaches the cell as stdout', { skip }, () => {
  const r = k.execute('#eval IO.println "hello from Lean"');
  assert.equal(r.reply.content.status, 'ok', shown(r));
  assert.match(streamText(r.outputs, 'stdout'), /hello from Lean/);
});

test('an import in a later cell works, and earlier definitions survive it', { skip }, () => {
  ok('def triple (n : Nat) : Nat := 3 * n');
  assert.match(ok('import Init.Data.List.Lemmas\n#check List.length_append'), /List.length_append/);
  assert.match(ok('#eval triple 5'), /(^|: )15\s*$/m);
});

test('completion of Nat.su offers Nat.succ', { skip }, () => {
  const code = '#check Nat.su';
  const r = k.request('complete_request', { code, cursor_pos: code.length });
  assert.equal(r.reply.content.status, 'ok');
  assert.ok(r.reply.content.matches.includes('Nat.succ'), r.reply.content.matches.join(' '));
  assert.equal(r.reply.content.cursor_start, '#check '.length);
  assert.equal(r.reply.content.cursor_end, code.length);
});
