// The Lean 4 tokenizer of the site's syntax highlighting (jupyterlite/extension/lean.js),
// driven line by line the way CodeMirror's StreamLanguage drives it, with CodeMirror's own
// StringStream. Run by `cargo test -p xtask lite::` (the test that builds the extension), which
// sets XLEAN_CODEMIRROR_LANGUAGE to the `@codemirror/language` package of the extension's
// locked npm tree. Also the words of the page's progress display (progress.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { lean4 } from '../extension/lean.js';
import { describe } from '../extension/progress.js';

const languageDir = process.env.XLEAN_CODEMIRROR_LANGUAGE;
const skip = languageDir ? false : 'XLEAN_CODEMIRROR_LANGUAGE is not set: run this through `cargo test -p xtask lite::`';

/** The tokens of `lines` as [text, token] pairs (spaces left out), the state carried over. */
function tokens(...lines) {
  const { StringStream } = createRequire(import.meta.url)(languageDir);
  const state = lean4.startState();
  const out = [];
  for (const line of lines) {
    const stream = new StringStream(line, 4, 2);
    while (!stream.eol()) {
      const style = lean4.token(stream, state);
      assert.ok(stream.pos > stream.start, `no progress at ${stream.pos} in ${JSON.stringify(line)}`);
      const text = stream.current();
      if (text.trim()) out.push([text, style]);
      stream.start = stream.pos;
    }
  }
  return out;
}

test('comments: line, nested block, doc and module doc, across lines', { skip }, () => {
  assert.deepEqual(tokens('x -- a comment'), [['x', 'variableName'], ['-- a comment', 'lineComment']]);
  assert.deepEqual(tokens('/- a /- b -/ c -/ d'), [['/- a /- b -/ c -/', 'blockComment'], ['d', 'variableName']]);
  assert.deepEqual(tokens('/-- doc', 'more -/ def'), [
    ['/-- doc', 'docComment'],
    ['more -/', 'docComment'],
    ['def', 'keyword'],
  ]);
  assert.deepEqual(tokens('/-! module -/'), [['/-! module -/', 'docComment']]);
  assert.deepEqual(tokens('/--/ x'), [['/--/', 'blockComment'], ['x', 'variableName']]);
});

test('strings with escapes, across lines, and characters', { skip }, () => {
  assert.deepEqual(tokens('"a\\nb" ++ "\\"q\\""'), [
    ['"a', 'string'],
    ['\\n', 'string.special'],
    ['b"', 'string'],
    ['++', 'operator'],
    ['"', 'string'],
    ['\\"', 'string.special'],
    ['q', 'string'],
    ['\\"', 'string.special'],
    ['"', 'string'],
  ]);
  assert.deepEqual(tokens('"two', 'lines" x'), [['"two', 'string'], ['lines"', 'string'], ['x', 'variableName']]);
  assert.deepEqual(tokens("'a' '\\n' f'"), [["'a'", 'character'], ["'\\n'", 'character'], ["f'", 'variableName']]);
});

test('numbers: decimal, hex, binary, octal, scientific', { skip }, () => {
  const nums = ['42', '0x1F', '0b101', '0o17', '1.5', '2e10', '1.5e-3', '1_000'];
  assert.deepEqual(tokens(nums.join(' ')), nums.map((n) => [n, 'number']));
});

test('declarations, commands, tactics, attributes', { skip }, () => {
  assert.deepEqual(tokens('@[simp] theorem foo : True := by simp'), [
    ['@[simp]', 'meta'],
    ['theorem', 'keyword'],
    ['foo', 'variableName.definition'],
    [':', 'operator'],
    ['True', 'atom'],
    [':=', 'operator'],
    ['by', 'keyword'],
    ['simp', 'variableName.standard'],
  ]);
  assert.deepEqual(tokens('#eval (1 : Nat)'), [
    ['#eval', 'keyword'],
    ['(', 'bracket'],
    ['1', 'number'],
    [':', 'operator'],
    ['Nat', 'variableName'],
    [')', 'bracket'],
  ]);
  assert.deepEqual(tokens('instance : Inhabited Foo where'), [
    ['instance', 'keyword'],
    [':', 'operator'],
    ['Inhabited', 'variableName'],
    ['Foo', 'variableName'],
    ['where', 'keyword'],
  ]);
  assert.deepEqual(tokens('fun x => ⟨x, rfl⟩'), [
    ['fun', 'keyword'],
    ['x', 'variableName'],
    ['=>', 'operator'],
    ['⟨', 'bracket'],
    ['x', 'variableName'],
    [',', null],
    ['rfl', 'variableName.standard'],
    ['⟩', 'bracket'],
  ]);
  assert.deepEqual(tokens('∀ n, n + 0 = n'), [
    ['∀', 'keyword'],
    ['n', 'variableName'],
    [',', null],
    ['n', 'variableName'],
    ['+', 'operator'],
    ['0', 'number'],
    ['=', 'operator'],
    ['n', 'variableName'],
  ]);
  assert.deepEqual(tokens('def «my name» := α₁'), [
    ['def', 'keyword'],
    ['«my name»', 'variableName.definition'],
    [':=', 'operator'],
    ['α₁', 'variableName'],
  ]);
});

// The progress display's words (progress.js): bytes in the unit the total fills.
test('progress reports in words: MB, kB below a MB, bytes below a kB', () => {
  const report = (done, total) => describe({ phase: 'download', text: 'Downloading Std', done, total });
  assert.equal(report(3.2 * 1024 * 1024, 10 * 1024 * 1024), 'Downloading Std: 3.2 of 10.0 MB');
  assert.equal(report(1536, 12 * 1024), 'Downloading Std: 1.5 of 12.0 kB');
  assert.equal(report(300, 800), 'Downloading Std: 300 of 800 B');
  assert.equal(report(0, 0), 'Downloading Std: 0 of 0 B');
  assert.equal(report(2.5 * 1024 * 1024, null), 'Downloading Std: 2.5 MB', 'no total: the bytes done');
  assert.equal(report(2048, null), 'Downloading Std: 2.0 kB');
  assert.equal(describe({ phase: 'unpack', text: 'Unpacking Std' }), 'Unpacking Std');
});
