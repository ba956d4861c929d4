// The notebook runner: executes every code cell of each notebook, in order, in a kernel module
// driven the way the JupyterLite worker drives it (kernel-harness.mjs), and compares what each
// cell shows with the expected outputs kept in the repository (docs/notebooks.md).
//
//   node notebooks.mjs --module MODULE.js --backend lean|test --expected DIR
//                      [--record] [--record-command CMD] NOTEBOOK.ipynb...
//
// Each notebook gets a fresh module instance (its own memory and backend state) and one kernel
// session, so what a cell defines is seen by the cells after it and by no other notebook.
// The expected outputs of NAME.ipynb are DIR/NAME.json. Prints one line per notebook,
// `notebook pass|fail|missing|recorded NAME`, with a diff under each failure, and exits 0 when
// every notebook ran, whatever the comparison found: the caller (`cargo xtask test-node`) counts
// the lines and prints the whole report. `--record` writes the expected files instead.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { KernelSession, loadModule } from './kernel-harness.mjs';

/** The code cells of a notebook (nbformat 4): `{ index, source }`, index among all cells. */
export function codeCells(notebook) {
  return notebook.cells
    .map((cell, index) => ({ cell, index }))
    .filter(({ cell }) => cell.cell_type === 'code')
    .map(({ cell, index }) => ({
      index,
      source: Array.isArray(cell.source) ? cell.source.join('') : cell.source,
    }));
}

/** What a cell shows, without what changes from run to run (message ids, dates, sessions,
 * execution counts, timings): the reply's status (and ename), then each output. Consecutive
 * stream outputs of one name are joined, as front ends show them, so where the kernel happened
 * to flush does not matter. */
export function normalizeCell({ index, source }, { reply, outputs }) {
  const record = { cell: index, source, status: reply ? reply.content.status : 'no reply' };
  if (reply && reply.content.status === 'error') record.ename = reply.content.ename;
  record.outputs = [];
  for (const m of outputs) {
    const type = m.header.msg_type;
    const c = m.content;
    const last = record.outputs.at(-1);
    if (type === 'stream' && last && last.type === 'stream' && last.name === c.name) {
      last.text += c.text;
    } else if (type === 'stream') {
      record.outputs.push({ type, name: c.name, text: c.text });
    } else if (type === 'error') {
      record.outputs.push({ type, ename: c.ename, evalue: c.evalue });
    } else {
      const out = { type };
      if (c.data !== undefined) out.data = c.data;
      if (c.metadata && Object.keys(c.metadata).length > 0) out.metadata = c.metadata;
      record.outputs.push(out);
    }
  }
  return record;
}

/** JSON with every object's keys sorted, two-space indented, ending in a newline: the same
 * value always gives the same text, so expected files diff well in review. */
export function stableJson(value) {
  const sorted = (v) =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
        : v;
  return JSON.stringify(sorted(value), null, 2) + '\n';
}

/** The differences between expected and actual cell records, readable: for each cell that
 * differs, its index and the first line of its source, then a line diff of the two records
 * (`-` expected, `+` actual). Empty when they agree. */
export function diffCells(expected, actual) {
  const lines = [];
  const byCell = (records) => new Map(records.map((r) => [r.cell, r]));
  const want = byCell(expected);
  const got = byCell(actual);
  const indices = [...new Set([...want.keys(), ...got.keys()])].sort((a, b) => a - b);
  for (const i of indices) {
    const [e, a] = [want.get(i), got.get(i)];
    const [eText, aText] = [e && stableJson(e), a && stableJson(a)];
    if (eText === aText) continue;
    const first = (a ?? e).source.split('\n')[0];
    lines.push(`  cell ${i} \`${first}\`:`);
    if (!e) lines.push('    not in the expected outputs (a new code cell?)');
    if (!a) lines.push('    expected, but the notebook has no such code cell now');
    if (e && a) lines.push(...lineDiff(eText.split('\n'), aText.split('\n')).map((l) => `    ${l}`));
  }
  return lines;
}

// A line diff by longest common subsequence (records are a few dozen lines): unchanged lines
// with two spaces, expected-only with `-`, actual-only with `+`.
function lineDiff(a, b) {
  const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let [i, j] = [0, 0];
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push(`  ${a[i++]}`), j++;
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.filter((l) => l.trim() !== '');
}

/** Runs one notebook's code cells in a fresh module: its expected-file content. */
export async function runNotebook(modulePath, file, backend) {
  const notebook = JSON.parse(fs.readFileSync(file, 'utf8'));
  const consoleLines = [];
  const Module = await loadModule({
    module: modulePath,
    print: (l) => consoleLines.push(l),
    printErr: (l) => consoleLines.push(l),
  });
  const session = new KernelSession(Module);
  // One cell after the other; a cell that imports from a bundle waits for it to load.
  const cells = [];
  for (const cell of codeCells(notebook)) {
    cells.push(normalizeCell(cell, await session.executeAsync(cell.source)));
  }
  return { notebook: path.basename(file), backend, cells };
}

/** Writes `text` to `file` through a temporary file beside it and a rename, so an interrupted
 * run never leaves a half-written expected file. */
function writeAtomically(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Checks (or records) one notebook; returns its result word and the lines to print under it. */
export async function checkNotebook({ modulePath, backend, expectedDir, record, recordCommand }, file) {
  const actual = await runNotebook(modulePath, file, backend);
  const expectedFile = path.join(expectedDir, path.basename(file, '.ipynb') + '.json');
  if (record) {
    writeAtomically(expectedFile, stableJson(actual));
    return { result: 'recorded', lines: [`  ${actual.cells.length} code cells -> ${expectedFile}`] };
  }
  if (!fs.existsSync(expectedFile)) {
    const why = `  no expected outputs recorded for ${path.basename(file)} (${expectedFile})`;
    return { result: 'missing', lines: [why, `  fix: record them with \`${recordCommand}\``] };
  }
  const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
  const lines = diffCells(expected.cells, actual.cells);
  if (lines.length === 0) return { result: 'pass', lines: [] };
  return {
    result: 'fail',
    lines: [
      `  outputs differ from ${expectedFile} (- expected, + actual):`,
      ...lines,
      `  if the change is deliberate, re-record: \`${recordCommand}\``,
    ],
  };
}

function parseArgs(argv) {
  const opts = { notebooks: [], record: false, recordCommand: 'cargo xtask test-node --record-notebooks' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--module') opts.modulePath = argv[++i];
    else if (a === '--backend') opts.backend = argv[++i];
    else if (a === '--expected') opts.expectedDir = argv[++i];
    else if (a === '--record') opts.record = true;
    else if (a === '--record-command') opts.recordCommand = argv[++i];
    else opts.notebooks.push(a);
  }
  if (!opts.modulePath || !opts.backend || !opts.expectedDir || opts.notebooks.length === 0) {
    console.error(
      'usage: node notebooks.mjs --module MODULE.js --backend lean|test --expected DIR ' +
        '[--record] [--record-command CMD] NOTEBOOK.ipynb...',
    );
    process.exit(2);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const file of opts.notebooks) {
    // A kernel that throws or traps fails its notebook, not the run: the others still run.
    const { result, lines } = await checkNotebook(opts, file).catch((e) => ({
      result: 'fail',
      lines: [`  ${file} could not run: ${e && e.stack ? e.stack : e}`],
    }));
    console.log(`notebook ${result} ${path.basename(file)}`);
    for (const l of lines) console.log(l);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
