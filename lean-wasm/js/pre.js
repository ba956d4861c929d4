// xlean --pre-js. Runs inside the module factory (createXeusModule), after `Module` exists and
// before the runtime reads Module.print/printErr or starts the C runtime.
//
// 1. Lean's paths in the module's environment.
// 2. The stdout/stderr capture that lean-wasm/kernel/stdio_capture.cpp drives (`xleanStdio`).
// 3. Bundles: .olean trees shipped beside the module (`cargo xtask build --bundles`).
// 4. When the module dies in a request: the request still gets a reply the user can read.

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
    // The capture a dead module left open (its C++ never ended it): ended, and what it holds
    // returned as text ({out, err}).
    abandon: function () {
      depth = Math.min(depth, 1);
      this.end();
      var decode = function (fd) {
        var text = new TextDecoder().decode(new Uint8Array(bytes[fd]));
        bytes[fd].length = 0;
        return text;
      };
      return { out: decode(1), err: decode(2) };
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

// 4. When the module dies. Lean's code can stop the module in the middle of a request: abort()
// (a failed assertion in Lean's runtime), exit() (lean_internal_panic_out_of_memory calls
// exit(1)), a wasm trap, or the engine's call stack running out (a runaway recursion: V8 throws
// RangeError). None of them is a C++ exception the shell could catch: the JS exception leaves
// the module through the server's notify_listener, xeus never sends the reply, and the cell would
// wait for it forever. So the worker's server is wrapped: the request that died gets an error
// reply and output saying what happened and what to do, then the idle status; the module, whose
// memory holds half-done work, is never entered again, and every later request gets the same
// error. JupyterLab's restart starts a new worker with a fresh module (docs/kernel-shell.md).
var xleanDeath = null; // why the module died: the error's evalue

Module['postRun'] = [].concat(Module['postRun'] || [], function xleanGuardServer() {
  var kernelClass = Module['xkernel'];
  if (!kernelClass) return;
  var getServer = kernelClass.prototype.get_server;
  kernelClass.prototype.get_server = function () {
    var server = getServer.call(this);
    var notify = server.notify_listener;
    server.notify_listener = function (msg) {
      if (xleanDeath) return xleanAnswerDead(msg, null);
      try {
        return notify.call(server, msg);
      } catch (e) {
        // A C++ exception that escaped xeus leaves the module sound: only this request failed.
        var fatal = !(typeof WebAssembly.Exception === 'function' && e instanceof WebAssembly.Exception);
        var why = xleanDescribe(e);
        if (fatal) xleanDeath = xleanDeath || why;
        xleanAnswerDead(msg, xleanStdio.abandon(), fatal ? xleanDeath : why);
      }
    };
    return server;
  };
});

// What the user is told. exit() from C (the runtime is kept alive) throws emscripten's ExitStatus.
function xleanDescribe(e) {
  if (e && e.name === 'ExitStatus') return 'the kernel exited with status ' + e.status;
  if (e instanceof RangeError) return 'the kernel ran out of stack (' + e.message + '): a recursion too deep';
  // abort() sets the runtime's ABORT; its exception may reach us as another trap ("unreachable":
  // unwinding it met a noexcept frame, which traps).
  if (ABORT) return 'the kernel aborted (abort() was called)';
  if (e instanceof WebAssembly.RuntimeError) return 'the kernel crashed (WebAssembly trap: ' + e.message + ')';
  if (e && e.message) return 'the kernel stopped: ' + e.message;
  return 'the kernel stopped: ' + String(e);
}

// Posts, as xeus-lite would, the messages that end request `msg`: what the cell wrote before
// dying (`written`, or null), the error output (execute), the error reply and the idle status.
function xleanAnswerDead(msg, written, why) {
  why = why || xleanDeath;
  var type = msg.header.msg_type;
  var post = function (channel, msgType, content) {
    self.postMessage({
      header: {
        msg_id: 'xlean-' + Date.now() + '-' + Math.random().toString(16).slice(2),
        session: msg.header.session,
        username: msg.header.username,
        date: new Date().toISOString(),
        msg_type: msgType,
        version: '5.3',
      },
      parent_header: msg.header,
      metadata: {},
      content: content,
      buffers: [],
      channel: channel,
    });
  };
  if (!written) post('iopub', 'status', { execution_state: 'busy' });
  if (written && written.out) post('iopub', 'stream', { name: 'stdout', text: written.out });
  if (written && written.err) post('iopub', 'stream', { name: 'stderr', text: written.err });
  var fatal = xleanDeath === why;
  var evalue = fatal ? why + '. The kernel must be restarted (Kernel > Restart Kernel): ' +
    'its definitions are lost, run the cells again' : why;
  var error = { ename: fatal ? 'xlean.KernelDied' : 'xlean.InternalError', evalue: evalue, traceback: [evalue] };
  if (type === 'execute_request') post('iopub', 'error', error);
  var reply = Object.assign({ status: 'error' }, error);
  if (type === 'execute_request') reply.execution_count = null;
  post(msg.channel || 'shell', type.replace(/_request$/, '_reply'), reply);
  post('iopub', 'status', { execution_state: 'idle' });
}
