// Start-up and command timings of an installed kernel, as a benchmark (run by
// `cargo xtask test-node` after the tests; no assertion here, the tests assert).
//
//   node timings.mjs MODULE.js BACKEND     BACKEND: `lean` or `test` (from kernel.json)
//
// Prints one line per figure: `timing <name> <ms>`. The Lean backend reports its own start-up
// split (runtime + module initialisation, then import of Init) on the console, read here.

import { KernelSession, loadModule } from './kernel-harness.mjs';

const [modulePath, backend] = process.argv.slice(2);
if (!modulePath || !['lean', 'test'].includes(backend)) {
  console.error('usage: node timings.mjs MODULE.js lean|test');
  process.exit(2);
}

const console_lines = [];
const Module = await loadModule({
  module: modulePath,
  print: (line) => console_lines.push(line),
  printErr: (line) => console_lines.push(line),
});
const k = new KernelSession(Module);
const cell = backend === 'lean' ? '#eval 1 + 1' : 'eval 1 + 1';
const check = backend === 'lean' ? '#check Nat' : 'info Nat : Type';
const first = k.execute(cell);
if (first.reply.content.status !== 'ok') {
  console.error(`the first cell failed: ${JSON.stringify(first.reply.content)}`);
  process.exit(1);
}
const later = [];
for (let i = 0; i < 5; i++) later.push(k.execute(i % 2 ? check : cell).ms);
later.sort((a, b) => a - b);

const figure = (name, ms) => console.log(`timing ${name} ${ms.toFixed(1)}`);
figure('module-load', Module.loadMs);
const fromConsole = (pattern) => {
  const line = console_lines.find((l) => pattern.test(l));
  return line ? Number(line.match(/([\d.]+) ms/)[1]) : null;
};
const runtime = fromConsole(/Lean runtime and modules initialised/);
const imports = fromConsole(/Init imported/);
if (runtime !== null) figure('lean-initialize', runtime);
if (imports !== null) figure('import-Init', imports);
figure('kernel-start', k.startMs);
figure('first-command', first.ms);
figure('later-command-median', later[Math.floor(later.length / 2)]);
