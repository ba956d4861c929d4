// The kernel shell with the test backend (lean-wasm/kernel/backend_test.c), driven in Node the
// way the JupyterLite worker drives it. What each backend command does is described at the top
// of backend_test.c; docs/kernel-shell.md says what each request must do.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

import {
  KernelSession,
  kinds,
  loadModule,
  modulePath,
  skipReason,
  streamText,
} from './kernel-harness.mjs';

const REPLACEMENT = '\uFFFD';
let Module;
let k;

before(async () => {
  if (skipReason) return;
  Module = await loadModule();
  k = new KernelSession(Module);
});

test('kernel_info names the language lean4', { skip: skipReason }, (t) => {
  const { reply, statuses } = k.request('kernel_info_request', {});
  assert.ok(reply, 'a kernel_info_reply arrives');
  const c = reply.content;
  assert.equal(c.status, 'ok');
  assert.equal(c.implementation, 'xlean');
  assert.match(c.implementation_version, /^\d+\.\d+\.\d+/);
  assert.equal(c.language_info.name, 'lean4');
  assert.equal(c.language_info.mimetype, 'text/x-lean4');
  assert.equal(c.language_info.file_extension, '.lean');
  assert.equal(c.language_info.version, '0.0.0-test', 'the backend says which version');
  assert.match(c.protocol_version, /^5\./);
  assert.ok(Array.isArray(c.help_links) && c.help_links.length > 0);
  assert.deepEqual(statuses, ['busy', 'idle']);
  t.diagnostic(`module load ${Module.loadMs.toFixed(1)} ms, kernel start ${k.startMs.toFixed(1)} ms`);
});

test('execute ok: the result is shown and the status is ok', { skip: skipReason }, (t) => {
  const r = k.execute('eval 1 + 2');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(typeof r.reply.content.execution_count, 'number');
  const input = r.iopub.find((m) => m.header.msg_type === 'execute_input');
  assert.equal(input.content.code, 'eval 1 + 2');
  assert.equal(streamText(r.outputs, 'stdout'), '1:0: info: 3\n');
  assert.deepEqual(r.statuses, ['busy', 'idle']);
  t.diagnostic(`execute request ${r.ms.toFixed(2)} ms`);
});

test('execute error: error status, ename/evalue, error output, other messages kept', { skip: skipReason }, () => {
  const r = k.execute('info before\nerror boom\nwarning careful\nerror second\neval 2 + 2');
  const c = r.reply.content;
  assert.equal(c.status, 'error');
  assert.equal(c.ename, 'Lean error');
  assert.equal(c.evalue, '2:0: error: boom');
  assert.deepEqual(c.traceback, ['2:0: error: boom', '4:0: error: second']);
  const errors = r.outputs.filter((m) => m.header.msg_type === 'error');
  assert.equal(errors.length, 1, 'one error output per cell');
  assert.equal(errors[0].content.ename, 'Lean error');
  assert.equal(errors[0].content.evalue, '2:0: error: boom');
  assert.deepEqual(errors[0].content.traceback, c.traceback);
  // Every other message is kept, as line:col: severity: text, in order.
  assert.equal(streamText(r.outputs, 'stdout'), '1:0: info: before\n5:0: info: 4\n');
  assert.equal(streamText(r.outputs, 'stderr'), '3:0: warning: careful\n');
  assert.equal(kinds(r.outputs).at(-1), 'error', 'the error output comes last');
  assert.deepEqual(r.statuses, ['busy', 'idle']);
});

test('stdout and stderr written during a cell are published as streams', { skip: skipReason }, () => {
  const r = k.execute('print hello from C\neprint oops\nprint second line\nstream stdout from the reply\n');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(
    streamText(r.outputs, 'stdout'),
    'hello from C\nsecond line\nfrom the reply',
  );
  assert.equal(streamText(r.outputs, 'stderr'), 'oops\n');
});

test('rich display is published next to the plain messages, several per cell', { skip: skipReason }, () => {
  const r = k.execute(
    [
      'info before',
      'display text/html <b>bold</b>',
      'display text/html <i>second</i>',
      'display application/json {"a": [1, 2]}',
      'display text/latex $x^2$',
      'display image/svg+xml <svg xmlns="http://www.w3.org/2000/svg"/>',
      'info after',
    ].join('\n'),
  );
  assert.equal(r.reply.content.status, 'ok');
  assert.deepEqual(kinds(r.outputs), [
    'stream:stdout',
    'display_data',
    'display_data',
    'display_data',
    'display_data',
    'display_data',
    'stream:stdout',
  ]);
  const data = r.outputs.filter((m) => m.header.msg_type === 'display_data').map((m) => m.content.data);
  assert.deepEqual(data[0], { 'text/html': '<b>bold</b>' });
  assert.deepEqual(data[1], { 'text/html': '<i>second</i>' }, 'same MIME type: both kept');
  assert.deepEqual(data[2], { 'application/json': { a: [1, 2] } }, 'JSON is sent as a value');
  assert.deepEqual(data[3], { 'text/latex': '$x^2$' });
  assert.ok(data[4]['image/svg+xml'].startsWith('<svg'));
  assert.equal(streamText(r.outputs, 'stdout'), '1:0: info: before\n7:0: info: after\n');
});

test('display frames written to stdout become display_data; the text around stays', { skip: skipReason }, () => {
  const r = k.execute('print text before\nshow text/markdown # Title\nprint text after');
  assert.equal(r.reply.content.status, 'ok');
  assert.deepEqual(kinds(r.outputs), ['stream:stdout', 'display_data', 'stream:stdout']);
  assert.deepEqual(r.outputs[1].content.data, { 'text/markdown': '# Title' });
  assert.equal(streamText(r.outputs, 'stdout'), 'text before\ntext after\n');
});

test('completion: matches and code-point cursors', { skip: skipReason }, () => {
  let { reply } = k.request('complete_request', { code: 'eval Nat.s', cursor_pos: 10 });
  let c = reply.content;
  assert.equal(c.status, 'ok');
  assert.deepEqual(c.matches, ['Nat.succ']);
  assert.equal(c.cursor_start, 5);
  assert.equal(c.cursor_end, 10);
  assert.deepEqual(c.metadata._jupyter_types_experimental, [
    { start: 5, end: 10, text: 'Nat.succ', type: 'constructor' },
  ]);
  // 'é αβ': the cursor after β is code point 4 (7 bytes in UTF-8).
  ({ reply } = k.request('complete_request', { code: 'é αβ', cursor_pos: 4 }));
  c = reply.content;
  assert.deepEqual(c.matches, ['αβγ']);
  assert.equal(c.cursor_start, 2);
  assert.equal(c.cursor_end, 4);
  ({ reply } = k.request('complete_request', { code: 'zzz', cursor_pos: 3 }));
  assert.deepEqual(reply.content.matches, []);
  // A backend error becomes a Jupyter error reply.
  ({ reply } = k.request('complete_request', { code: 'fail', cursor_pos: 4 }));
  assert.equal(reply.content.status, 'error');
  assert.equal(reply.content.ename, 'xlean.BackendError');
  assert.equal(reply.content.evalue, 'xlean complete: no session');
});

// The pinned upstream table the module was built from, when the xtask names it
// (`XLEAN_TEST_ABBREVIATIONS`); `null` against an installed kernel (`cargo xtask test-node`),
// where the symbols written below are checked alone.
const abbreviationTable = process.env.XLEAN_TEST_ABBREVIATIONS
  ? JSON.parse(fs.readFileSync(process.env.XLEAN_TEST_ABBREVIATIONS, 'utf8'))
  : null;

/** The complete_reply for `code` with the cursor at code point `cursor` (default: the end). */
function complete(code, cursor = [...code].length) {
  return k.request('complete_request', { code, cursor_pos: cursor }).reply.content;
}

/** What the table says `\key` becomes (upstream's `$CURSOR` removed), when the table is given. */
function symbolOf(key, written) {
  if (abbreviationTable) assert.equal(abbreviationTable[key].replace('$CURSOR', ''), written);
  return written;
}

test('abbreviations: an exact one is replaced at once, in code points', { skip: skipReason }, () => {
  let c = complete('p \\to');
  assert.equal(c.status, 'ok');
  assert.deepEqual(c.matches, [symbolOf('to', '→')]);
  assert.equal(c.cursor_start, 2);
  assert.equal(c.cursor_end, 5);
  assert.deepEqual(c.metadata._jupyter_types_experimental, [
    { start: 2, end: 5, text: '→', type: '\\to' },
  ]);
  // Exact wins over the longer keys it starts (\top, \to0 ...), as in Julia.
  assert.deepEqual(complete('\\and').matches, [symbolOf('and', '∧')]);
  // The cursor in the middle of a line, after a non-ASCII character: code points, not bytes.
  c = complete('é \\to x', 5);
  assert.deepEqual([c.matches, c.cursor_start, c.cursor_end], [['→'], 2, 5]);
  // `$CURSOR` cannot be expressed in a reply: the pair is inserted, the cursor lands after it.
  assert.deepEqual(complete('\\<>').matches, [symbolOf('<>', '⟨⟩')]);
});

test('abbreviations: a prefix shared by several gives the list of their symbols', { skip: skipReason }, () => {
  const c = complete('p q : \\w');
  const types = c.metadata._jupyter_types_experimental;
  assert.ok(c.matches.length > 1, JSON.stringify(c.matches));
  assert.deepEqual(types.find((t) => t.type === '\\wedge'), { start: 6, end: 8, text: '∧', type: '\\wedge' });
  assert.deepEqual(types.map((t) => t.text), c.matches);
  assert.equal(c.cursor_start, 6);
  assert.equal(c.cursor_end, 8);
  if (abbreviationTable) {
    // Every key starting with `w`, in byte order (they are ASCII), with its symbol.
    const keys = Object.keys(abbreviationTable).filter((key) => key.startsWith('w')).sort();
    assert.deepEqual(types.map((t) => t.type), keys.map((key) => `\\${key}`));
    assert.deepEqual(c.matches, keys.map((key) => abbreviationTable[key].replace('$CURSOR', '')));
  }
});

test('abbreviations: the whole line before the cursor is converted at once', { skip: skipReason }, () => {
  const line = 'theorem t (p q : Prop) : p \\and q \\to q \\and p := by';
  const c = complete(line);
  assert.deepEqual(c.matches, ['∧ q → q ∧ p := by']);
  assert.equal(c.cursor_start, line.indexOf('\\'));
  assert.equal(c.cursor_end, [...line].length);
  assert.equal(c.metadata._jupyter_types_experimental[0].type, '\\and \\to \\and');
  // Ending in an exact one converts the earlier ones of the line too; other lines stay.
  const cell = 'a \\to b\n(x \\in s) \\and';
  const last = complete(cell);
  assert.deepEqual(last.matches, ['∈ s) ∧']);
  assert.equal(last.cursor_start, cell.indexOf('\\in'));
  // Comments are converted, and a quote in a comment opens no string.
  assert.deepEqual(complete('-- say "p \\to q').matches, ['→ q']);
  assert.deepEqual(complete('/- "p -/ \\to').matches, ['→']);
  // A char literal's `\` is an escape (`\t` is an abbreviation too); a prime in a name is not one.
  const chars = complete("c = '\\t' ∨ c = '\"' ∨ h' \\to");
  assert.deepEqual([chars.matches, chars.cursor_start], [['→'], 24]);
});

test('abbreviations: no match, other lines and strings fall through to the backend', { skip: skipReason }, () => {
  // The backend answers as it does without abbreviations (the completion test above).
  const backend = (code) => {
    const c = complete(code);
    assert.equal(c.status, 'ok');
    return c.matches;
  };
  assert.deepEqual(backend('\\zzzq'), []);
  assert.deepEqual(backend('\\zzzq Nat.s'), ['Nat.succ']);
  assert.deepEqual(backend('eval Nat.s'), ['Nat.succ']);
  assert.deepEqual(backend('p \\to\nNat.s'), ['Nat.succ']);
  // A backslash in a string literal is an escape, not an abbreviation, even after `\"`.
  assert.deepEqual(backend('"a\\to'), []);
  assert.deepEqual(backend('eval "a\\to" Nat.s'), ['Nat.succ']);
  assert.deepEqual(backend('"say \\"hi\\" \\to'), []);
  // After the string closes, abbreviations are converted again.
  assert.deepEqual(complete('"a\\"b" \\to').matches, ['→']);
});

test('inspect: the documentation of the name under the cursor', { skip: skipReason }, () => {
  let { reply } = k.request('inspect_request', { code: 'eval Nat.add', cursor_pos: 7, detail_level: 0 });
  let c = reply.content;
  assert.equal(c.status, 'ok');
  assert.equal(c.found, true);
  assert.match(c.data['text/plain'], /Nat\.add : def\s+Addition of natural numbers\./);
  assert.match(c.data['text/markdown'], /```lean/);
  ({ reply } = k.request('inspect_request', { code: 'nothing here', cursor_pos: 2, detail_level: 0 }));
  c = reply.content;
  assert.equal(c.status, 'ok');
  assert.equal(c.found, false);
  assert.deepEqual(c.data, {});
});

test('is_complete: complete, incomplete (with indent), invalid', { skip: skipReason }, () => {
  const ask = (code) => k.request('is_complete_request', { code }).reply.content;
  assert.deepEqual(ask('eval 1 + 1'), { status: 'complete', indent: '' });
  assert.deepEqual(ask('def f :='), { status: 'incomplete', indent: '  ' });
  assert.deepEqual(ask('theorem t : 1 = 1 := (by'), { status: 'incomplete', indent: '  ' });
  assert.equal(ask('a)').status, 'invalid');
});

test('invalid UTF-8 in output: the reply still arrives, the text is repaired', { skip: skipReason }, () => {
  // In a message (raw bytes in the backend's JSON): A, FF, C3 (truncated), '(', B, then a
  // CESU-8 surrogate (ED A0 80) and an overlong '/' (C0 AF).
  let r = k.execute('bytes 41 ff c3 28 42 ed a0 80 c0 af');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(
    streamText(r.outputs, 'stdout'),
    `1:0: info: A${REPLACEMENT}${REPLACEMENT}(B${REPLACEMENT.repeat(3)}${REPLACEMENT.repeat(2)}\n`,
  );
  assert.deepEqual(r.statuses, ['busy', 'idle']);
  // On the C stdout.
  r = k.execute('printbytes 61 fe 62');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(streamText(r.outputs, 'stdout'), `a${REPLACEMENT}b\n`);
  // In an error, which goes into the error reply itself.
  r = k.execute('error bad');
  assert.equal(r.reply.content.status, 'error');
});

test('a backend reply that is not JSON (or none) still gives an error reply', { skip: skipReason }, () => {
  for (const code of ['garbage', 'null']) {
    const r = k.execute(code);
    assert.equal(r.reply.content.status, 'error', code);
    assert.equal(r.reply.content.ename, 'xlean.BackendError', code);
    assert.match(r.reply.content.evalue, /execute/);
    assert.deepEqual(r.statuses, ['busy', 'idle'], code);
  }
});

test('state is kept across cells; execution counts increase', { skip: skipReason }, () => {
  const a = k.execute('count');
  const b = k.execute('count');
  const n = (r) => Number(streamText(r.outputs, 'stdout').split(': ').at(-1));
  assert.equal(n(b), n(a) + 1);
  assert.equal(b.reply.content.execution_count, a.reply.content.execution_count + 1);
});

test('a hundred cells in a row: every one replies, in order', { skip: skipReason }, (t) => {
  const times = [];
  let last = 0;
  for (let i = 0; i < 100; i++) {
    const r = k.execute(`eval ${i} + 1\nprint line ${i}`);
    assert.equal(r.reply.content.status, 'ok');
    // What the cell printed comes first, then Lean's messages.
    assert.equal(streamText(r.outputs, 'stdout'), `line ${i}\n1:0: info: ${i + 1}\n`);
    assert.ok(r.reply.content.execution_count > last);
    last = r.reply.content.execution_count;
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  t.diagnostic(`execute request median ${times[50].toFixed(2)} ms, max ${times[99].toFixed(2)} ms`);
});

test('a silent cell runs and replies but publishes nothing', { skip: skipReason }, () => {
  const r = k.execute('eval 5 + 5\nprint quiet', { silent: true });
  assert.equal(r.reply.content.status, 'ok');
  assert.deepEqual(r.outputs, []);
});

test('Lean paths are in the environment the C code sees', { skip: skipReason }, () => {
  const r = k.execute('getenv LEAN_PATH\ngetenv LEAN_SYSROOT');
  assert.equal(streamText(r.outputs, 'stdout'), '1:0: info: /lib/lean\n2:0: info: /\n');
});

test('shutdown replies on the control channel', { skip: skipReason }, () => {
  const r = k.request('shutdown_request', { restart: false }, 'control');
  assert.ok(r.reply, 'a shutdown_reply arrives');
  assert.equal(r.reply.content.status, 'ok');
  assert.equal(r.reply.content.restart, false);
});

test('a backend that failed to start says why on execute and in kernel_info', { skip: skipReason }, async () => {
  const printed = [];
  const M = await loadModule({ print: (s) => printed.push(s), printErr: (s) => printed.push(s) });
  const s = new KernelSession(M, ['xlean', '--backend-options={"fail": "no .olean files at /lib/lean"}']);
  const r = s.execute('eval 1 + 1');
  assert.equal(r.reply.content.status, 'error');
  assert.equal(r.reply.content.ename, 'xlean.InitError');
  assert.match(r.reply.content.evalue, /no \.olean files at \/lib\/lean/);
  assert.equal(r.outputs.filter((m) => m.header.msg_type === 'error').length, 1);
  const info = s.request('kernel_info_request', {}).reply.content;
  assert.match(info.banner, /not available: no \.olean files/);
  assert.deepEqual(printed, [], 'nothing printed to the console (no debug output)');
});

// Bundles (`cargo xtask build --bundles`): .olean trees shipped as gzip'd tar files next to the
// module and unpacked into /lib/lean by pre.js before the runtime starts. The archives here are
// made by the system's GNU tar (a long path included, which GNU tar writes as a long-name entry).
async function moduleWithBundles(list, files, more = {}) {
  const { mkdtempSync, mkdirSync, writeFileSync, copyFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const dir = mkdtempSync(path.join(tmpdir(), 'xlean-bundles-'));
  const js = path.join(dir, 'xlean.js');
  copyFileSync(modulePath, js);
  copyFileSync(modulePath.replace(/\.js$/, '.wasm'), path.join(dir, 'xlean.wasm'));
  const tree = path.join(dir, 'tree');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
    writeFileSync(path.join(tree, name), text);
  }
  execFileSync('tar', ['--format=gnu', '-czf', path.join(dir, 'xlean-std.tar.gz'), '-C', tree, '.']);
  // More archives: {file name: {path: text}}.
  for (const [archive, content] of Object.entries(more)) {
    const other = path.join(dir, `tree-${archive}`);
    for (const [name, text] of Object.entries(content)) {
      mkdirSync(path.dirname(path.join(other, name)), { recursive: true });
      writeFileSync(path.join(other, name), text);
    }
    execFileSync('tar', ['--format=gnu', '-czf', path.join(dir, archive), '-C', other, '.']);
  }
  if (list) writeFileSync(path.join(dir, 'xlean-bundles.json'), JSON.stringify(list));
  return js;
}

const LONG = `Std/${'Deep/'.repeat(22)}Long.olean`; // over 100 bytes: a GNU long-name entry

test('bundles listed beside the module are unpacked into /lib/lean before start', { skip: skipReason }, async () => {
  const files = { 'Std.olean': 'std root', 'Std/Data/Fixture.olean': 'fixture', [LONG]: 'long' };
  const js = await moduleWithBundles(
    { bundles: [{ file: 'xlean-std.tar.gz', into: '/lib/lean', files: 3 }] },
    files,
  );
  const M = await loadModule({ module: js });
  for (const [name, text] of Object.entries(files)) {
    assert.equal(M.FS.readFile(`/lib/lean/${name}`, { encoding: 'utf8' }), text, name);
  }
  // The kernel still starts and answers, and its C code sees the files.
  const s = new KernelSession(M);
  assert.equal(s.execute('eval 1 + 2').reply.content.status, 'ok');
  const seen = s.execute('exists /lib/lean/Std.olean\nexists /lib/lean/Lean.olean');
  assert.equal(streamText(seen.outputs, 'stdout'), '1:0: info: /lib/lean/Std.olean: 8 bytes\n2:0: info: /lib/lean/Lean.olean: missing\n');
});

test('a bundle list that names a missing or different bundle stops the module with the reason', { skip: skipReason }, async () => {
  const missing = await moduleWithBundles({ bundles: [{ file: 'xlean-lean.tar.gz', files: 1 }] }, { 'Std.olean': 'x' });
  await assert.rejects(loadModule({ module: missing, printErr: () => {} }), /xlean-lean\.tar\.gz is listed in xlean-bundles\.json but missing/);
  const miscounted = await moduleWithBundles({ bundles: [{ file: 'xlean-std.tar.gz', files: 5 }] }, { 'Std.olean': 'x' });
  await assert.rejects(loadModule({ module: miscounted, printErr: () => {} }), /holds 1 files, the list says 5/);
});

test('without a bundle list nothing is unpacked', { skip: skipReason }, async () => {
  const js = await moduleWithBundles(null, { 'Std.olean': 'x' });
  const M = await loadModule({ module: js });
  assert.equal(M.FS.analyzePath('/lib/lean/Std.olean').exists, false);
});

// The tar reader (pre.js section 3) is fed a bundle as its bytes arrive, in chunks of whatever
// size the network and DecompressionStream make. Here it is fed archives made by the system's
// tar in 7-byte chunks, so every header, long name and file spans many of them.
async function tarOf(files, format, more = []) {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { execFileSync } = await import('node:child_process');
  const tree = mkdtempSync(path.join(tmpdir(), 'xlean-tar-'));
  for (const [name, content] of Object.entries(files)) {
    const at = path.join(tree, name);
    if (content === null) mkdirSync(at, { recursive: true });
    else {
      mkdirSync(path.dirname(at), { recursive: true });
      writeFileSync(at, content);
    }
  }
  return new Uint8Array(execFileSync('tar', [`--format=${format}`, ...more, '-cf', '-', '-C', tree, '.']));
}

function inChunks(bytes, size) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += size)));
    },
  });
}

const BIG = new Uint8Array(70_000).map((_, i) => (i * 7 + (i >> 9)) & 0xff); // spans 10,000 chunks

test('the tar reader writes every entry however the archive is cut into chunks', { skip: skipReason }, async () => {
  const M = await loadModule();
  const files = { 'Std.olean': 'std root', [LONG]: 'long', 'Std/Big.olean': BIG, 'Std/Empty.olean': '', 'Std/Dir': null };
  // GNU tar writes the long path as a long-name entry (`L`); ustar splits it into prefix + name.
  for (const format of ['gnu', 'ustar']) {
    const tar = await tarOf(files, format);
    for (const size of [7, 512, tar.length]) {
      const into = `/unpacked-${format}-${size}`;
      assert.equal(await M.xleanUntar(inChunks(tar, size), into), 4, `${format} in ${size}-byte chunks`);
      assert.equal(M.FS.readFile(`${into}/Std.olean`, { encoding: 'utf8' }), 'std root');
      assert.equal(M.FS.readFile(`${into}/${LONG}`, { encoding: 'utf8' }), 'long');
      assert.deepEqual(M.FS.readFile(`${into}/Std/Big.olean`), BIG);
      assert.equal(M.FS.readFile(`${into}/Std/Empty.olean`).length, 0);
      assert.ok(M.FS.isDir(M.FS.stat(`${into}/Std/Dir`).mode), 'the empty folder');
    }
  }
});

test('the tar reader refuses an entry outside its folder and an archive cut short', { skip: skipReason }, async () => {
  const M = await loadModule();
  // -P keeps the `..` that tar would strip: `./Sub/../../evil.olean` leaves the folder.
  const evil = await tarOf({ 'evil.olean': 'x', Sub: null }, 'gnu', ['-P', '--transform=s,^\\./evil,./Sub/../../evil,']);
  await assert.rejects(M.xleanUntar(inChunks(evil, 7), '/evil'), /a bundle entry leaves its folder: Sub\/\.\.\/\.\.\/evil\.olean/);
  const tar = await tarOf({ 'Std/Big.olean': BIG }, 'gnu');
  const cut = tar.subarray(0, 512 * 3 + 100); // in the middle of Big.olean's bytes
  await assert.rejects(M.xleanUntar(inChunks(cut, 7), '/cut'), /a bundle ends in the middle of an entry/);
  assert.equal(M.FS.analyzePath('/cut/Std/Big.olean').exists, false, 'nothing half-written');
});

// Loading on demand: a bundle that says what it `provides` is unpacked when a cell first imports
// one of its modules, after the bundles it `needs`; the cell waits for it, and so does every
// message sent after it.
const ON_DEMAND = {
  bundles: [
    { file: 'xlean-std.tar.gz', into: '/lib/lean', files: 2, provides: ['Std'], needs: [] },
    { file: 'xlean-lean.tar.gz', into: '/lib/lean', files: 1, provides: ['Lean'], needs: ['Std'] },
  ],
};
const STD_FILES = { 'Std.olean': 'std root', 'Std/Data/Fixture.olean': 'fixture' };

test('a bundle is unpacked when a cell first imports from it, after the bundles it needs', { skip: skipReason }, async () => {
  const js = await moduleWithBundles(ON_DEMAND, STD_FILES, { 'xlean-lean.tar.gz': { 'Lean.olean': 'lean' } });
  const reports = [];
  const M = await loadModule({ module: js, progress: (r) => reports.push(r) });
  assert.equal(M.FS.analyzePath('/lib/lean/Std.olean').exists, false, 'nothing unpacked at start');
  const s = new KernelSession(M);
  assert.deepEqual(reports.map((r) => r.phase), ['ready'], 'the kernel started');
  // A cell without imports from a bundle is answered at once, as before.
  const before = s.execute('exists /lib/lean/Std.olean');
  assert.equal(streamText(before.outputs, 'stdout'), '1:0: info: /lib/lean/Std.olean: missing\n');
  // Lean needs Std: both arrive, Std first, before the cell runs.
  const cell = await s.executeAsync('import Lean.Data.Json -- a comment\nexists /lib/lean/Std/Data/Fixture.olean\nexists /lib/lean/Lean.olean');
  assert.equal(cell.reply.content.status, 'ok');
  assert.equal(
    streamText(cell.outputs, 'stdout'),
    '2:0: info: /lib/lean/Std/Data/Fixture.olean: 7 bytes\n3:0: info: /lib/lean/Lean.olean: 4 bytes\n',
  );
  assert.deepEqual(
    reports.slice(1).map((r) => r.text),
    ['Unpacking Std', 'Unpacking Lean', 'Kernel ready'],
  );
  // Loaded once: a later import is not held.
  assert.equal(s.execute('import Std.Data').reply.content.status, 'ok');
});

test('messages sent behind a held cell reach the kernel after it, in order', { skip: skipReason }, async () => {
  const js = await moduleWithBundles(ON_DEMAND, STD_FILES, { 'xlean-lean.tar.gz': { 'Lean.olean': 'lean' } });
  const s = new KernelSession(await loadModule({ module: js }));
  const first = s.executeAsync('public import Std\ncount');
  const second = s.executeAsync('count');
  const [a, b] = await Promise.all([first, second]);
  const counted = (r) => Number(streamText(r.outputs, 'stdout').replace(/^.*info: /, ''));
  assert.equal(counted(b), counted(a) + 1, `${streamText(a.outputs, 'stdout')} then ${streamText(b.outputs, 'stdout')}`);
});

test('a bundle that cannot be loaded gives the cell a readable error, and a later cell tries again', { skip: skipReason }, async () => {
  // The list names xlean-lean.tar.gz, which is not there.
  const js = await moduleWithBundles(ON_DEMAND, STD_FILES);
  const reports = [];
  const s = new KernelSession(await loadModule({ module: js, progress: (r) => reports.push(r) }));
  for (let attempt = 1; attempt <= 2; attempt++) {
    const r = await s.executeAsync('import Lean\neval 1 + 1');
    assert.equal(r.reply.content.status, 'ok', 'the cell still ran');
    assert.match(
      streamText(r.outputs, 'stderr'),
      /^xlean: cannot load xlean-lean\.tar\.gz for this cell: xlean-lean\.tar\.gz is listed in xlean-bundles\.json but missing\n  fix: check the connection and run the cell again, or reload the page\n$/,
      `attempt ${attempt}`,
    );
    assert.equal(streamText(r.outputs, 'stdout'), '2:0: info: 2\n');
  }
  assert.equal(reports.at(-1).phase, 'error');
  // Std itself was loaded (it is needed first), and stays loaded.
  assert.equal(streamText(s.execute('exists /lib/lean/Std.olean').outputs, 'stdout'), '1:0: info: /lib/lean/Std.olean: 8 bytes\n');
});

// When Lean stops the module in a cell (backend_test.c's abort, oom, overflow, stack; pre.js section 4):
// the cell still gets an error reply and output that say what happened and what to do, the
// kernel goes back to idle, later requests get the same error without entering the dead module,
// and a fresh module (what JupyterLab's restart makes: a new worker) answers again.
const DEATHS = [
  { command: 'abort', why: /^the kernel aborted \(abort\(\) was called\)/ },
  { command: 'oom', why: /^the kernel exited with status 1/, stderr: 'INTERNAL PANIC: out of memory\n' },
  { command: 'overflow', why: /^the kernel ran out of stack \(Maximum call stack size exceeded\)/ },
  // The module's own stack overflowing: placed first in memory (-Wl,--stack-first), it runs into
  // address 0 and traps instead of overwriting the static data above it.
  { command: 'stack', why: /^the kernel crashed \(WebAssembly trap: memory access out of bounds\)/ },
];

for (const { command, why, stderr } of DEATHS) {
  test(`\`${command}\` ends the cell with a readable error; a new module answers again`, { skip: skipReason }, async (t) => {
    const M = await loadModule({ printErr: () => {} });
    const s = new KernelSession(M);
    assert.equal(s.execute('eval 1 + 1').reply.content.status, 'ok');
    // Under Node, emscripten's exit() also sets the process's exit code (a worker has none).
    const exitCode = process.exitCode;
    const r = s.execute(`print before\n${command}\neval 2 + 2`);
    process.exitCode = exitCode;
    assert.ok(r.reply, 'an execute_reply arrives');
    const c = r.reply.content;
    assert.equal(c.status, 'error');
    assert.equal(c.ename, 'xlean.KernelDied');
    assert.match(c.evalue, why);
    assert.match(c.evalue, /restart/i, 'the error says what to do');
    const errors = r.outputs.filter((m) => m.header.msg_type === 'error');
    assert.equal(errors.length, 1, 'one error output');
    assert.equal(errors[0].content.evalue, c.evalue);
    assert.equal(streamText(r.outputs, 'stdout'), 'before\n', 'what the cell printed before dying');
    if (stderr) assert.equal(streamText(r.outputs, 'stderr'), stderr);
    assert.equal(r.statuses.at(-1), 'idle', 'the kernel is not left busy');

    // The dead module is not entered again: every request gets the same error at once.
    for (const [type, content] of [
      ['execute_request', { code: 'eval 1 + 1', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false }],
      ['complete_request', { code: 'ev', cursor_pos: 2 }],
      ['kernel_info_request', {}],
    ]) {
      const again = s.request(type, content);
      assert.ok(again.reply, `a reply to ${type}`);
      assert.equal(again.reply.content.status, 'error', type);
      assert.equal(again.reply.content.evalue, c.evalue, type);
      assert.deepEqual(again.statuses, ['busy', 'idle'], type);
    }

    const t0 = performance.now();
    const fresh = new KernelSession(await loadModule());
    const answer = fresh.execute('eval 2 + 3');
    assert.equal(streamText(answer.outputs, 'stdout'), '1:0: info: 5\n');
    t.diagnostic(`figure: new module to first answer ${(performance.now() - t0).toFixed(0)} ms`);
  });
}
