// The notebook runner (notebooks.mjs): what it keeps of a cell's outputs, how it reports a
// difference, and, against the test-backend module, that a changed expected output fails with a
// diff naming the cell and that a notebook without expected outputs fails with the fix.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkNotebook, diffCells, normalizeCell, stableJson } from './notebooks.mjs';
import { modulePath, skipReason } from './kernel-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const notebook = path.join(here, 'notebooks/test-backend.ipynb');
const expectedDir = path.join(here, 'notebooks/expected/test');

const msg = (msg_type, content) => ({
  header: { msg_type, msg_id: 'x', date: '2026-01-01' },
  parent_header: { msg_id: 'p' },
  content,
});

test('a cell record keeps status and outputs, not ids, dates or counts', () => {
  const reply = msg('execute_reply', { status: 'error', ename: 'Lean error', execution_count: 7 });
  const outputs = [
    msg('stream', { name: 'stdout', text: 'a\n' }),
    msg('stream', { name: 'stdout', text: 'b\n' }),
    msg('stream', { name: 'stderr', text: 'w\n' }),
    msg('display_data', { data: { 'text/html': '<b>x</b>' }, metadata: {}, transient: { display_id: 'd' } }),
    msg('execute_result', { data: { 'text/plain': '2' }, metadata: {}, execution_count: 7 }),
    msg('error', { ename: 'Lean error', evalue: '1:0: error: e', traceback: ['1:0: error: e'] }),
  ];
  assert.deepEqual(normalizeCell({ index: 3, source: 'eval 1 + 1' }, { reply, outputs }), {
    cell: 3,
    source: 'eval 1 + 1',
    status: 'error',
    ename: 'Lean error',
    outputs: [
      { type: 'stream', name: 'stdout', text: 'a\nb\n' },
      { type: 'stream', name: 'stderr', text: 'w\n' },
      { type: 'display_data', data: { 'text/html': '<b>x</b>' } },
      { type: 'execute_result', data: { 'text/plain': '2' } },
      { type: 'error', ename: 'Lean error', evalue: '1:0: error: e' },
    ],
  });
});

test('expected files are JSON with sorted keys', () => {
  assert.equal(stableJson({ b: 1, a: { d: [{ z: 0, y: 1 }], c: 2 } }),
    '{\n  "a": {\n    "c": 2,\n    "d": [\n      {\n        "y": 1,\n        "z": 0\n      }\n    ]\n  },\n  "b": 1\n}\n');
});

test('a difference names the cell and its first line, expected then actual', () => {
  const cell = (text) => ({ cell: 4, source: '#eval 1 + 1\n#check Nat', status: 'ok',
    outputs: [{ type: 'stream', name: 'stdout', text }] });
  assert.deepEqual(diffCells([cell('2\n')], [cell('2\n')]), []);
  const lines = diffCells([cell('2\n')], [cell('3\n')]);
  assert.equal(lines[0], '  cell 4 `#eval 1 + 1`:');
  const changed = lines.filter((l) => /^ {4}[-+]/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
  assert.deepEqual(changed, ['- "text": "2\\n",', '+ "text": "3\\n",']);
  assert.match(diffCells([], [cell('2\n')]).join('\n'), /cell 4 .*\n.*not in the expected outputs/);
});

test('the test-backend notebook gives its recorded outputs', { skip: skipReason }, async () => {
  const opts = { modulePath, backend: 'test', expectedDir, record: false, recordCommand: 'REC' };
  assert.deepEqual(await checkNotebook(opts, notebook), { result: 'pass', lines: [] });
});

test('a changed expected output fails with a diff; a missing one fails with the fix', { skip: skipReason }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlean-notebooks-'));
  try {
    const opts = { modulePath, backend: 'test', expectedDir: dir, record: false, recordCommand: 'REC' };
    const missing = await checkNotebook(opts, notebook);
    assert.equal(missing.result, 'missing');
    assert.match(missing.lines.join('\n'), /no expected outputs recorded for test-backend.ipynb[^]*`REC`/);

    const file = path.join(dir, 'test-backend.json');
    const planted = fs.readFileSync(path.join(expectedDir, 'test-backend.json'), 'utf8')
      .replace('1:0: info: 3\\n', '1:0: info: 4\\n');
    fs.writeFileSync(file, planted);
    const changed = await checkNotebook(opts, notebook);
    assert.equal(changed.result, 'fail');
    const text = changed.lines.join('\n');
    assert.match(text, /cell 2 `eval 1 \+ 2`:/);
    assert.match(text, /- +"text": "1:0: info: 4\\n",\n +\+ +"text": "1:0: info: 3\\n",/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
