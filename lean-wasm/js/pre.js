// xlean --pre-js. Runs inside the module factory (createXeusModule), after `Module` exists and
// before the runtime reads Module.print/printErr or starts the C runtime.
//
// 1. Lean's paths in the module's environment.
// 2. The stdout/stderr capture that lean-wasm/kernel/stdio_capture.cpp drives (`xleanStdio`).
// 3. Bundles: .olean trees shipped beside the module (`cargo xtask build --bundles`).

// 1. Lean's paths. The Init/Std/Lean .olean files are embedded at /lib/lean. Lean finds them
// through its sysroot (LEAN_SYSROOT, whose lib/lean it searches) and LEAN_PATH. ENV is what
// getenv() sees; preRun runs before the C runtime's constructors read the environment. An
// embedder may add or override variables with createXeusModule({xleanEnv: {NAME: value}}).
Module['preRun'] = [].concat(Module['preRun'] || [], function xleanEnvironment() {
  var vars = { LEAN_SYSROOT: '/', LEAN_PATH: '/lib/lean' };
  var extra = Module['xleanEnv'] || {};
  for (var name in extra) vars[name] = extra[name];
  for (var name in vars) ENV[name] = String(vars[name]);
});

// 2. stdout/stderr capture. C code writes fd 1 / fd 2 through emscripten's TTY device, which
// collects bytes per line and hands each line, decoded, to Module.print / Module.printErr (a
// worker's console is not the notebook). While a capture is active the TTY's byte sink is
// swapped for ours, so the cell's output is kept as the exact bytes written: the interpreter
// repairs invalid UTF-8 itself (emscripten's own decoder does not: for short lines it silently
// merges an invalid byte with the bytes after it) and publishes the text as stream output.
// Outside a capture nothing changes: lines go to Module.print/printErr, else the console.
var xleanStdio = (function () {
  var depth = 0;
  var bytes = { 1: [], 2: [] };
  var saved = {};
  // The TTY operations that keep bytes in `sink` instead of printing them.
  function capturing(ops, sink) {
    var mine = Object.create(ops);
    mine.put_char = function (_tty, value) {
      if (value !== null) sink.push(value);
    };
    mine.fsync = function () {};
    return mine;
  }
  function terminal(fd) {
    var stream = FS.streams[fd];
    return stream && stream.tty ? stream.tty : null;
  }
  return {
    begin: function () {
      if (depth++ > 0) return;
      for (var fd = 1; fd <= 2; fd++) {
        var tty = terminal(fd);
        if (!tty) continue;
        // A line still held from before the cell goes to the console, not into the cell.
        if (tty.output && tty.output.length) tty.ops.fsync(tty);
        saved[fd] = tty.ops;
        tty.ops = capturing(tty.ops, bytes[fd]);
      }
    },
    end: function () {
      if (depth === 0 || --depth > 0) return;
      for (var fd = 1; fd <= 2; fd++) {
        var tty = terminal(fd);
        if (tty && saved[fd]) tty.ops = saved[fd];
        saved[fd] = undefined;
      }
    },
    // How many bytes fd captured.
    size: function (fd) {
      return bytes[fd].length;
    },
    // Copies them to ptr (a Number: the C side passes a BigInt, see stdio_capture.cpp) and
    // forgets them. cap is the room at ptr.
    copy: function (fd, ptr, cap) {
      var data = bytes[fd];
      var n = Math.min(cap, data.length);
      HEAPU8.set(n === data.length ? data : data.slice(0, n), ptr);
      data.length = 0;
    },
  };
})();

// 3. Bundles. With `cargo xtask build --bundles`, Std and Lean are not embedded but shipped next
// to the module as gzip'd tar files, listed in xlean-bundles.json. Before the C runtime starts,
// the list is read (none: nothing to do, the usual case) and every bundle is unpacked into the
// file system (/lib/lean), so Lean finds the files as if they were embedded. gzip is undone by the
// platform's DecompressionStream (browsers, workers and Node 18+); the tar reader below knows
// plain files, directories and GNU long names, which is all `cargo xtask build` writes.
Module['preRun'].push(function xleanBundles() {
  addRunDependency('xlean-bundles');
  xleanLoadBundles().then(
    function () {
      removeRunDependency('xlean-bundles');
    },
    function (e) {
      // A list that names a bundle that cannot be read is a broken install: say so and stop.
      // abort() rejects the module's promise with this reason, then throws; the throw has no
      // one to reach here.
      try {
        abort('xlean: cannot load the .olean bundles: ' + (e && e.message ? e.message : e));
      } catch (_) {}
    }
  );
});

// Bundles sit next to the module's .wasm, so they are found where the embedder finds the .wasm:
// JupyterLite's worker maps only `*.wasm` (and `*.data`) names to the kernel's folder and leaves
// every other name relative to the worker's own script.
function xleanBundleUrl(name) {
  var wasm = locateFile('xlean.wasm');
  var slash = Math.max(wasm.lastIndexOf('/'), wasm.lastIndexOf('\\'));
  return wasm.substring(0, slash + 1) + name;
}

function xleanReadFile(name) {
  var url = xleanBundleUrl(name);
  if (typeof process === 'object' && process.versions && process.versions.node) {
    return require('fs').promises.readFile(url).then(
      function (b) {
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      },
      function (e) {
        if (e.code === 'ENOENT') return null;
        throw e;
      }
    );
  }
  return fetch(url).then(function (r) {
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.arrayBuffer().then(function (b) {
      return new Uint8Array(b);
    });
  });
}

function xleanGunzip(bytes) {
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).arrayBuffer().then(function (b) {
    return new Uint8Array(b);
  });
}

// Writes every file of a tar archive under `into`; returns how many.
function xleanUntar(tar, into) {
  var text = function (from, len) {
    var end = from;
    while (end < from + len && tar[end] !== 0) end++;
    return new TextDecoder().decode(tar.subarray(from, end));
  };
  var count = 0;
  var longName = null;
  for (var at = 0; at + 512 <= tar.length; ) {
    if (tar[at] === 0) break; // the zero blocks at the end
    var header = at;
    var name = text(header, 100);
    var size = parseInt(text(header + 124, 12).trim() || '0', 8);
    var type = String.fromCharCode(tar[header + 156] || 48);
    var data = tar.subarray(header + 512, header + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = new TextDecoder().decode(data).replace(/\0+$/, '');
      continue;
    }
    // POSIX ustar ("ustar\0") may split a long name into prefix + name; GNU headers ("ustar ")
    // use that space for other things.
    var posix = text(header + 257, 6) === 'ustar' && tar[header + 262] === 0;
    var prefix = posix ? text(header + 345, 155) : '';
    var path = longName || (prefix ? prefix + '/' + name : name);
    longName = null;
    path = path.replace(/^(\.\/)+/, '');
    if (path === '' || path === '.' || path === './') continue;
    if (path.split('/').indexOf('..') >= 0 || path.charAt(0) === '/') {
      throw new Error('a bundle entry leaves its folder: ' + path);
    }
    var full = into + '/' + path.replace(/\/+$/, '');
    if (type === '5') {
      FS.mkdirTree(full);
    } else if (type === '0' || type === '\0') {
      FS.mkdirTree(full.substring(0, full.lastIndexOf('/')));
      FS.writeFile(full, data);
      count++;
    }
  }
  return count;
}

function xleanLoadBundles() {
  return xleanReadFile('xlean-bundles.json').then(function (listBytes) {
    if (!listBytes) return;
    var list = JSON.parse(new TextDecoder().decode(listBytes)).bundles || [];
    return list.reduce(function (done, bundle) {
      return done.then(function () {
        return xleanReadFile(bundle.file).then(function (gz) {
          if (!gz) throw new Error(bundle.file + ' is listed in xlean-bundles.json but missing');
          return xleanGunzip(gz).then(function (tar) {
            var n = xleanUntar(tar, bundle.into || '/lib/lean');
            if (bundle.files !== undefined && n !== bundle.files) {
              throw new Error(bundle.file + ' holds ' + n + ' files, the list says ' + bundle.files);
            }
          });
        });
      });
    }, Promise.resolve());
  });
}
