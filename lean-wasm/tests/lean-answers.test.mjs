// Real Lean answers from an installed kernel built with the pinned Lean (backend `lean`):
// `cargo xtask test-node` runs this file against `<prefix>/bin/xlean.js` when the prefix's
// kernel.json says `"backend": "lean"`. It checks what a student would see in a first hour, not
// just that nothing crashed: each answer is matched closely enough to catch a wrong one, loosely
// enough to survive harmless formatting. It cannot run where the official Lean toolchain cannot be
// installed (it needs the C and .olean files of v4.28.0); there every test is skipped with that
// reason.
//
// One kernel session serves the whole file, as one notebook would. Each test uses its own names,
// so that no test depends on another's side effects, except where carrying state across cells is
// the point. Cells that `import` make the kernel replay every earlier cell on the new imports
// (docs/kernel.md, "Imports in any cell"), so they come late, and the cell that exhausts its
// heartbeats comes last (a replay would report its error again as a warning of a later cell).

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

/** Every text a cell showed: streams, results and displays (text/plain), and errors (every
 * error of the cell is in the traceback; the evalue holds the first). */
function shown(r) {
  return r.outputs
    .map(
      (m) =>
        m.content.text ??
        m.content.data?.['text/plain'] ??
        m.content.traceback?.join('\n') ??
        m.content.evalue ??
        '',
    )
    .join('\n');
}

/** Runs a cell that must succeed; returns what it showed. */
function ok(code) {
  const r = k.execute(code);
  assert.equal(r.reply.content.status, 'ok', `${code}\n${shown(r)}`);
  return shown(r);
}

/** Runs a cell that must succeed without any warning or error; returns what it showed. The
 * kernel shows a message as `line:col: severity: text`. */
function clean(code) {
  const out = ok(code);
  assert.doesNotMatch(out, /\d+:\d+: (warning|error):/, `${code}\n${out}`);
  return out;
}

/** Runs a cell that must fail; returns what it showed. */
function fails(code) {
  const r = k.execute(code);
  assert.equal(r.reply.content.status, 'error', `${code}\n${shown(r)}`);
  assert.equal(r.reply.content.ename, 'Lean error');
  return shown(r);
}

/** `#eval` and `#reduce` show their value as an info message: `1:0: info: 42`. */
const value = (v) => new RegExp(`(^|: )${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm');

// -------------------------------------------------------------------------------------------
// The four commands that show something

test('#check Nat shows its type', { skip }, () => {
  assert.match(clean('#check Nat'), /Nat : Type/);
});

test('#eval 1 + 1 gives 2', { skip }, () => {
  assert.match(clean('#eval 1 + 1'), value('2'));
});

test('#print shows a definition with its body', { skip }, () => {
  clean('def printedSeven : Nat := 7');
  assert.match(clean('#print printedSeven'), /def printedSeven : Nat :=\s*7/);
});

test('#reduce computes a term to its normal form', { skip }, () => {
  assert.match(clean('#reduce (fun x => x + 1) 2'), value('3'));
  assert.match(clean('#reduce [1, 2].map (· * 10)'), value('[10, 20]'));
});

// -------------------------------------------------------------------------------------------
// Definitions and proofs

test('a def and a theorem are usable in later cells', { skip }, () => {
  clean('def double (n : Nat) : Nat := n + n');
  clean('theorem double_two : double 2 = 4 := rfl');
  assert.match(clean('#check double_two'), /double_two : double 2 = 4/);
  assert.match(clean('#eval double 21'), value('42'));
});

test('a theorem proved by simp', { skip }, () => {
  clean('theorem simpProved (xs : List Nat) : (xs ++ []).length = xs.length := by simp');
  assert.match(clean('#check simpProved'), /simpProved \(xs : List Nat\) : \(xs \+\+ \[\]\)\.length = xs\.length/);
});

test('a theorem proved by omega', { skip }, () => {
  clean('theorem omegaProved (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega');
  assert.match(clean('#check omegaProved'), /omegaProved \(a b : Nat\) \(h : a < b\) : a \+ 1 ≤ b/);
});

test('a theorem proved by decide, and a false one refused by decide', { skip }, () => {
  clean('theorem decideProved : 10 < 2 ^ 5 := by decide');
  assert.match(clean('#check decideProved'), /decideProved : 10 < 2 \^ 5/);
  // the tactics really check: a false statement is an error, at the tactic
  assert.match(fails('theorem decideFalse : 2 ^ 5 < 10 := by decide'), /1:\d+: error: .*decide/s);
});

test('structure, inductive and instance', { skip }, () => {
  clean('structure AnsPoint where\n  x : Nat\n  y : Nat\nderiving Repr');
  clean('inductive AnsColor where\n  | red\n  | green\nderiving Repr');
  clean('instance : Add AnsPoint where\n  add p q := { x := p.x + q.x, y := p.y + q.y }');
  assert.match(clean('#eval ({ x := 1, y := 2 } : AnsPoint)'), /\{ x := 1, y := 2 \}/);
  assert.match(clean('#eval AnsColor.green'), value('AnsColor.green'));
  assert.match(
    clean('#eval ({ x := 1, y := 2 } : AnsPoint) + { x := 3, y := 4 }'),
    /\{ x := 4, y := 6 \}/,
  );
  assert.match(clean('#check AnsColor.red'), /AnsColor\.red : AnsColor/);
});

// -------------------------------------------------------------------------------------------
// State carried across cells

test('namespace, open and variable are carried across cells', { skip }, () => {
  clean('namespace AnsGeo');
  clean('def area (w h : Nat) : Nat := w * h');
  clean('end AnsGeo');
  assert.match(clean('#check AnsGeo.area'), /AnsGeo\.area \(w h : Nat\) : Nat/);
  // `open` and `variable` inside a section, so that they end with this test
  clean('section AnsScope');
  clean('open AnsGeo');
  assert.match(clean('#eval area 3 4'), value('12'));
  clean('variable (m : Nat)');
  clean('theorem addZeroRight : m + 0 = m := rfl');
  assert.match(clean('#check addZeroRight'), /addZeroRight \(m : Nat\) : m \+ 0 = m/);
  clean('end AnsScope');
  assert.match(fails('#eval area 3 4'), /1:6: error: unknown identifier ['`]area['`]/i);
});

// -------------------------------------------------------------------------------------------
// Output and messages

test('IO.println output reaches the cell as stdout', { skip }, () => {
  const r = k.execute('#eval IO.println "hello from Lean"');
  assert.equal(r.reply.content.status, 'ok', shown(r));
  assert.match(streamText(r.outputs, 'stdout'), /hello from Lean/);
});

test('IO output comes in order, before the value', { skip }, () => {
  const r = k.execute('#eval do\n  IO.println "first line"\n  IO.println "second line"\n  return 40 + 2');
  assert.equal(r.reply.content.status, 'ok', shown(r));
  const out = streamText(r.outputs, 'stdout');
  const [first, second, result] = ['first line', 'second line', '42'].map((t) => out.indexOf(t));
  assert.ok(first >= 0 && first < second && second < result, out);
});

test('an error has its line:col, the error status and the message', { skip }, () => {
  const out = fails('#check Nat\n#check undefinedThing');
  // (Lean's wording changed over versions: `unknown identifier 'x'`, `Unknown identifier `x``)
  assert.match(out, /2:7: error: unknown identifier ['`]undefinedThing['`]/i);
  // The other message of the same cell is still shown.
  assert.match(out, /Nat : Type/);
});

test('a warning has its line:col, goes to stderr and does not fail the cell', { skip }, () => {
  const r = k.execute('-- the argument is never used\ndef ignoresArg (x : Nat) : Nat := 5');
  assert.equal(r.reply.content.status, 'ok', shown(r));
  assert.match(streamText(r.outputs, 'stderr'), /2:15: warning: unused variable `x`/);
});

test("sorry gives the warning `declaration uses 'sorry'` at its line:col", { skip }, () => {
  const r = k.execute('theorem usesSorry : 1 = 2 := sorry');
  assert.equal(r.reply.content.status, 'ok', shown(r));
  // at the declaration's name (1:8), or at the `sorry` itself (1:29) as newer Lean reports it
  assert.match(streamText(r.outputs, 'stderr'), /1:(8|29): warning: declaration uses ['`]sorry['`]/);
});

// -------------------------------------------------------------------------------------------
// Completion and inspection

test('completion of Nat.su offers Nat.succ', { skip }, () => {
  const code = '#check Nat.su';
  const r = k.request('complete_request', { code, cursor_pos: code.length });
  assert.equal(r.reply.content.status, 'ok');
  assert.ok(r.reply.content.matches.includes('Nat.succ'), r.reply.content.matches.join(' '));
  assert.equal(r.reply.content.cursor_start, '#check '.length);
  assert.equal(r.reply.content.cursor_end, code.length);
});

test('inspecting Nat.succ shows its signature and its docstring', { skip }, () => {
  // XLean.Repl.inspectAt: `data` holds the signature, a blank line and the docstring
  // (XLean.Protocol.inspectReply), as text/plain and as markdown with the signature fenced.
  const code = '#check Nat.succ';
  const r = k.request('inspect_request', { code, cursor_pos: code.length - 2, detail_level: 0 });
  const c = r.reply.content;
  assert.equal(c.status, 'ok');
  assert.equal(c.found, true, JSON.stringify(c));
  const plain = c.data['text/plain'];
  assert.match(plain, /^Nat\.succ \(n : Nat\) : Nat\n\n\S/, plain);
  assert.match(plain, /successor/i, 'the docstring of Nat.succ');
  assert.match(c.data['text/markdown'], /^```lean\nNat\.succ \(n : Nat\) : Nat\n```\n\n/);
  const none = k.request('inspect_request', { code: '#check 12', cursor_pos: 8, detail_level: 0 });
  assert.equal(none.reply.content.found, false);
});

// -------------------------------------------------------------------------------------------
// Imports in later cells (each replays the cells before it)

test('an import in a later cell works, and earlier definitions survive it', { skip }, () => {
  clean('def triple (n : Nat) : Nat := 3 * n');
  assert.match(ok('import Init.Data.List.Lemmas\n#check List.length_append'), /List.length_append/);
  assert.match(clean('#eval triple 5'), value('15'));
});

test('import Std.Data.HashMap in a later cell, then use it', { skip }, () => {
  const out = ok(
    'import Std.Data.HashMap\n' +
      'def ansAges : Std.HashMap String Nat := ({} : Std.HashMap String Nat).insert "ada" 36 |>.insert "alan" 41',
  );
  assert.doesNotMatch(out, /error:/, out);
  assert.match(clean('#eval ansAges.get? "alan"'), value('some 41'));
  assert.match(clean('#eval ansAges.size'), value('2'));
});

test('import Lean in a later cell; a macro and an elab defined in one cell work in the next', { skip }, () => {
  ok('import Lean');
  clean('macro "ans_twice! " t:term : term => `($t + $t)');
  assert.match(clean('#eval ans_twice! 21'), value('42'));
  clean('open Lean Elab Command in\nelab "#ans_hello" : command => logInfo "hello from an elab"');
  assert.match(clean('#ans_hello'), /1:0: info: hello from an elab/);
});

// The initializer fix in lean-wasm/XLean/Repl.lean (`importFresh`/`importOnTop` switch
// initializer execution on before every `withImporting`, which switches it off in its `finally`):
// a plain `initialize` (not `builtin_initialize`, which runs when the binary starts) of a module a
// later cell imports must run, and may register things (attributes, options, extensions are
// registered only while `initializing`, which `withImporting` makes true).
//
// No module of Lean or Std fits. Read in the public-source index (single files of mixed versions,
// possibly not exactly v4.28.0): src/Lean/Meta/Tactic/Simp/RegisterCommand.lean and
// src/Lean/LabelAttribute.lean define `register_simp_attr`/`register_label_attr` (macros that
// expand to `initialize`) but nothing in Lean or Std uses them; src/Lean/LabelAttribute.lean and
// src/Lean/Elab/Tactic/BVDecide/Frontend/Attr.lean register with `builtin_initialize`, as Lean and
// Std do throughout (they are compiled into the binary). The plain `initialize`s found are Lake's
// (stage0/stdlib/Lake/DSL/AttributesCore.c: `package`, `script`, … attributes), and the kernel
// ships only Init, Std and Lean.
//
// So the closest observable effect is made here: a cell compiles a small module with two plain
// `initialize`s (an `IO.Ref` and an option registered with `Lean.Option.register`) to an .olean
// with Lean's own frontend, puts its folder on the search path, and a later cell imports it and
// uses both. Without the fix the option is unknown (`set_option` fails) and the ref's value was
// never initialised.
test('a plain initialize of a module imported by a later cell runs and registers its option', { skip }, () => {
  const probe = [
    'import Lean.Data.Options',
    'initialize ansProbeRef : IO.Ref Nat ← IO.mkRef 42',
    'initialize ansProbeOption : Lean.Option Nat ←',
    '  Lean.Option.register `ans_probe_level { defValue := 7, descr := "xlean answers probe" }',
  ].join('\n');
  // Built once: the cell is replayed on every later import, and then finds the .olean.
  clean(
    [
      'import Lean.Elab.Frontend',
      'open Lean Elab in',
      '#eval show IO Unit from do',
      '  let dir : System.FilePath := "/tmp/xlean-answers-probe"',
      '  unless ← (dir / "AnsProbe.olean").pathExists do',
      '    IO.FS.createDirAll dir',
      `    let ok ← runFrontend ${JSON.stringify(probe)} (Elab.async.set {} false) "AnsProbe.lean" \`AnsProbe`,
      '      (oleanFileName? := some (dir / "AnsProbe.olean"))',
      '    if ok.isNone then throw <| IO.userError "the probe module did not compile"',
      '  searchPathRef.modify fun sp => if sp.contains dir then sp else dir :: sp',
    ].join('\n'),
  );
  ok('import AnsProbe');
  assert.match(clean('#eval ansProbeRef.get'), value('42'));
  clean('set_option ans_probe_level 3 in\n#eval 0');
});

// -------------------------------------------------------------------------------------------
// Limits (last: a replay on a later import would repeat the error as a warning)

// A cell runs synchronously inside the kernel call, so node:test's timeout cannot stop a hang
// (it fires only once the call returns); the elapsed time is asserted as well.
test('a proof over maxHeartbeats fails with Lean\'s heartbeat error, not a hang', { skip, timeout: 120_000 }, () => {
  const r = k.execute(
    'set_option maxHeartbeats 1 in\n' +
      'theorem tooSlow : (List.range 200).foldl (· + ·) 0 = 19900 := by\n' +
      '  simp [List.range]',
  );
  assert.equal(r.reply.content.status, 'error', shown(r));
  assert.match(shown(r), /\(deterministic\) timeout|deterministic timeout|maximum number of heartbeats/);
  assert.ok(r.ms < 60_000, `the cell took ${Math.round(r.ms)} ms`);
  // and the kernel is still usable
  assert.match(clean('#eval 2 + 3'), value('5'));
});
