// xlean --pre-js. Runs inside the module factory (createXeusModule), after `Module` exists and
// before the runtime reads Module.print/printErr or starts the C runtime.
//
// 1. Lean's paths in the module's environment.
// 2. The stdout/stderr capture that lean-wasm/kernel/stdio_capture.cpp drives (`xleanStdio`).
// 3. Bundles: .olean trees shipped beside the module (`cargo xtask build --bundles`), each
//    loaded when a cell first imports from it.
// 4. When the module dies in a request: the request still gets a reply the user can read.
// 5. Progress: what the module is doing while it loads, for the page to show.

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
    // Puts text of the glue's own into fd's next capture (a cell's bundle that failed to load).
    note: function (fd, text) {
      var encoded = new TextEncoder().encode(text);
      for (var i = 0; i < encoded.length; i++) bytes[fd].push(encoded[i]);
    },
  };
})();

// 3. Bundles. With `cargo xtask build --bundles`, Std and Lean are not embedded but shipped next
// to the module as gzip'd tar files, listed in xlean-bundles.json. Before the C runtime starts,
// the list is read (none: nothing to do, the usual case). A bundle is unpacked into the file
// system (/lib/lean), where Lean finds its files as if they were embedded, when a cell first
// imports a module it `provides` (after the bundles it `needs`): a notebook that imports only
// Init never downloads Std or Lean. A bundle without `provides` (a list from before loading on
// demand) is unpacked before the runtime starts.
//
// A bundle is unpacked while it downloads: its bytes flow from the response (in Node, the file)
// through a byte counter (the download's progress), the platform's DecompressionStream (browsers,
// workers and Node 18+) and the tar reader below, which writes each file as soon as its last byte
// is in. So gunzip and untar, seconds of CPU for Std and Lean, overlap the download instead of
// following it, and only about one file is held at a time, not the whole compressed and the
// whole unpacked archive. The streams' backpressure paces the download to the unpacking.

// The list's bundles; `loaded` and `loading` (a promise) are added here.
var xleanBundleList = [];

Module['preRun'].push(function xleanBundles() {
  addRunDependency('xlean-bundles');
  xleanOpen('xlean-bundles.json')
    .then(function (response) {
      return response ? response.text() : null;
    })
    .then(function (listText) {
      if (listText !== null) xleanBundleList = JSON.parse(listText).bundles || [];
      return xleanLoadInOrder(
        xleanBundleList.filter(function (bundle) {
          return !bundle.provides;
        })
      );
    })
    .then(
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

// The file beside the module as a Response whose body streams its bytes, or null when there is
// none. In Node the body is the file read from disk, so both read it through the same streams.
function xleanOpen(name) {
  var url = xleanBundleUrl(name);
  if (ENVIRONMENT_IS_NODE) {
    return require('fs').promises.open(url).then(
      function (file) {
        return new Response(require('stream').Readable.toWeb(file.createReadStream()));
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
    return r;
  });
}

// Writes every file of a tar stream under `into`; resolves with how many. The kernel tests drive
// it as Module.xleanUntar, in chunks of any size.
function xleanUntar(tar, into) {
  var reader = xleanTarReader(into);
  return tar.pipeTo(new WritableStream({ write: reader.push })).then(reader.finish);
}
Module['xleanUntar'] = xleanUntar;

// The tar reader, fed chunk by chunk (`push`): an entry's bytes are gathered into one buffer of
// their own, and a file is written (the buffer handed to MEMFS, not copied) as soon as its last
// byte is in. It knows what `cargo xtask build` writes (plain files, directories, GNU long names)
// and POSIX ustar's name prefix; other entries are passed over. `finish` returns how many files
// it wrote.
function xleanTarReader(into) {
  var header = new Uint8Array(512);
  var want = header; // the piece being gathered: a header, or an entry's data
  var filled = 0;
  var use = onHeader; // what is done with `want` once it is full
  var skip = 0; // bytes to pass over before the next piece: padding, or an entry not kept
  var longName = null;
  var count = 0;
  var ended = false;

  function text(bytes, from, len) {
    var end = from;
    while (end < from + len && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(from, end));
  }
  function push(chunk) {
    for (var at = 0, n; at < chunk.length && !ended; at += n) {
      if (skip > 0) {
        n = Math.min(skip, chunk.length - at);
        skip -= n;
        continue;
      }
      n = Math.min(want.length - filled, chunk.length - at);
      want.set(chunk.subarray(at, at + n), filled);
      filled += n;
      if (filled === want.length) complete();
    }
  }
  // Hands the full piece on; the next piece is a header unless its user asks for data (`expect`).
  function complete() {
    var piece = want;
    var then = use;
    want = header;
    filled = 0;
    use = onHeader;
    then(piece);
  }
  // An entry's bytes fill 512-byte blocks; the rest of the last one is padding.
  function padding(size) {
    return (512 - (size % 512)) % 512;
  }
  // The entry's `size` bytes are gathered and handed to `then`; its padding is passed over.
  function expect(size, then) {
    want = new Uint8Array(size);
    use = function (data) {
      skip = padding(size);
      then(data);
    };
    if (size === 0) complete();
  }
  function passOver(size) {
    skip = size + padding(size);
  }
  function onHeader() {
    if (header[0] === 0) return (ended = true); // the zero blocks at the end
    var name = text(header, 0, 100);
    var size = parseInt(text(header, 124, 12).trim() || '0', 8);
    var type = String.fromCharCode(header[156] || 48);
    if (type === 'L') {
      return expect(size, function (data) {
        longName = new TextDecoder().decode(data).replace(/\0+$/, '');
      });
    }
    // POSIX ustar ("ustar\0") may split a long name into prefix + name; GNU headers ("ustar ")
    // use that space for other things.
    var posix = text(header, 257, 6) === 'ustar' && header[262] === 0;
    var prefix = posix ? text(header, 345, 155) : '';
    var path = longName || (prefix ? prefix + '/' + name : name);
    longName = null;
    path = path.replace(/^(\.\/)+/, '');
    if (path === '' || path === '.' || path === './') return passOver(size);
    if (path.split('/').indexOf('..') >= 0 || path.charAt(0) === '/') {
      throw new Error('a bundle entry leaves its folder: ' + path);
    }
    var full = into + '/' + path.replace(/\/+$/, '');
    if (type === '0' || type === '\0') {
      return expect(size, function (data) {
        FS.mkdirTree(full.substring(0, full.lastIndexOf('/')));
        FS.writeFile(full, data, { canOwn: true });
        count++;
      });
    }
    if (type === '5') FS.mkdirTree(full);
    passOver(size); // a folder's bytes (none), or an entry not kept
  }
  return {
    push: push,
    finish: function () {
      if (filled > 0 || skip > 0 || want !== header) {
        throw new Error('a bundle ends in the middle of an entry (the archive is cut short)');
      }
      return count;
    },
  };
}

// Loads the bundles one after the other.
function xleanLoadInOrder(bundles) {
  return bundles.reduce(function (done, bundle) {
    return done.then(function () {
      return xleanLoadBundle(bundle);
    });
  }, Promise.resolve());
}

// Unpacks one bundle, once, while it downloads; after a failure the next import tries again.
function xleanLoadBundle(bundle) {
  if (bundle.loaded) return Promise.resolve();
  if (bundle.loading) return bundle.loading;
  var what = (bundle.provides || [bundle.file]).join(', ');
  var unpacking = function () {
    xleanProgress({ phase: 'unpack', text: 'Unpacking ' + what });
  };
  bundle.loading = xleanOpen(bundle.file)
    .then(function (response) {
      if (!response) throw new Error(bundle.file + ' is listed in xlean-bundles.json but missing');
      // A download is counted as its bytes go by, and unpacked as they go: its reports say both.
      // What is left after the last byte is reported as unpacking. Node reads the file from
      // disk: nothing to count, only the unpacking to report.
      var gz = response.body;
      if (ENVIRONMENT_IS_NODE) unpacking();
      else gz = gz.pipeThrough(xleanCounter(response, 'Downloading and unpacking ' + what, unpacking));
      return xleanUntar(gz.pipeThrough(new DecompressionStream('gzip')), bundle.into || '/lib/lean');
    })
    .then(function (n) {
      if (bundle.files !== undefined && n !== bundle.files) {
        throw new Error(bundle.file + ' holds ' + n + ' files, the list says ' + bundle.files);
      }
      bundle.loaded = true;
    });
  bundle.loading.then(null, function () {
    bundle.loading = null;
  });
  return bundle.loading;
}

// The modules a cell imports: the names on its `import` lines (Lean's `public`, `meta` and
// `all` allowed, a trailing `--` comment ignored). Every line is looked at, not only the
// header: an extra match only loads a bundle early.
function xleanImports(code) {
  var modules = [];
  String(code || '')
    .split('\n')
    .forEach(function (line) {
      var m = /^\s*(?:(?:public|private|meta)\s+)*import\s+(?:all\s+)?(.*)$/.exec(line);
      if (!m) return;
      m[1]
        .replace(/--.*$/, '')
        .split(/\s+/)
        .forEach(function (name) {
          if (name) modules.push(name);
        });
    });
  return modules;
}

// The bundle that provides module `name` (`Std` provides `Std` and `Std.…`), if any.
function xleanProviderOf(name) {
  for (var i = 0; i < xleanBundleList.length; i++) {
    var roots = xleanBundleList[i].provides || [];
    for (var j = 0; j < roots.length; j++) {
      if (name === roots[j] || name.indexOf(roots[j] + '.') === 0) return xleanBundleList[i];
    }
  }
  return null;
}

// The bundles a message needs that are not loaded yet, needs before those that need them.
function xleanBundlesNeededBy(msg) {
  var wanted = [];
  var seen = [];
  function want(name) {
    var bundle = xleanProviderOf(name);
    if (!bundle || bundle.loaded || seen.indexOf(bundle) >= 0) return;
    seen.push(bundle);
    (bundle.needs || []).forEach(want);
    wanted.push(bundle);
  }
  if (msg && msg.header && msg.header.msg_type === 'execute_request' && msg.content) {
    xleanImports(msg.content.code).forEach(want);
  }
  return wanted;
}

// Loads what a cell needs. Never fails: a bundle that cannot be loaded becomes a message on the
// cell's stderr, and the cell runs without it (Lean then also says the module is unknown).
function xleanLoadForCell(msg) {
  var needed = xleanBundlesNeededBy(msg);
  return xleanLoadInOrder(needed).then(
    function () {
      xleanProgress({ phase: 'ready', text: 'Kernel ready' });
    },
    function (e) {
      var why =
        'xlean: cannot load ' +
        needed
          .filter(function (b) {
            return !b.loaded;
          })
          .map(function (b) {
            return b.file;
          })
          .join(', ') +
        ' for this cell: ' +
        (e && e.message ? e.message : e) +
        '\n  fix: check the connection and run the cell again, or reload the page\n';
      xleanStdio.note(2, why);
      xleanProgress({ phase: 'error', text: why.split('\n')[0] });
    }
  );
}

// Wraps a server's notify_listener (every message from the front end enters there) so that an
// execute_request needing a bundle not yet loaded is held until it is, and every later message
// waits its turn behind it: the kernel sees the messages in the order they were sent. A held
// message makes notify_listener return a promise (settled when the message was delivered); the
// xeus worker ignores the result, the Node harness awaits it. Otherwise it is as synchronous as
// before.
function xleanHoldForBundles(server) {
  var deliver = server.notify_listener;
  var held = 0;
  var tail = Promise.resolve();
  var release = function () {
    held--;
  };
  server.notify_listener = function (msg) {
    if (held === 0 && xleanBundlesNeededBy(msg).length === 0) return deliver.call(server, msg);
    held++;
    var turn = tail
      .then(function () {
        return xleanLoadForCell(msg);
      })
      .then(function () {
        deliver.call(server, msg);
      });
    tail = turn.then(release, release);
    return turn;
  };
}

// The kernel's servers are made by `xkernel.get_server()` (embind, after the runtime started).
// The hold wraps the server outermost, around section 4's guard, so that a held message, when
// delivered, still passes the guard: registered from a preRun with addOnPostRun, it runs after
// every Module.postRun hook (emscripten's postRun() puts those in front of it).
Module['preRun'].push(function xleanHoldLater() {
  addOnPostRun(xleanWrapKernel);
});

function xleanWrapKernel() {
  var kernel = Module['xkernel'];
  if (!kernel || !kernel.prototype.get_server) return;
  var getServer = kernel.prototype.get_server;
  var start = kernel.prototype.start;
  kernel.prototype.get_server = function () {
    var server = getServer.apply(this, arguments);
    if (server) xleanHoldForBundles(server);
    return server;
  };
  kernel.prototype.start = function () {
    var result = start.apply(this, arguments);
    xleanProgress({ phase: 'ready', text: 'Kernel ready' });
    return result;
  };
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

// 5. Progress. While the module loads, the glue says what it is doing, as reports
// {phase, text, done, total}: phase `download` (bytes `done` of `total`), `compile`, `unpack`,
// `start`, `ready` or `error`; `text` says it in words. An embedder may take the reports with
// createXeusModule({xleanProgress: function (report) {…}}). Otherwise, in a browser, they go to
// the same-origin BroadcastChannel `xlean-progress`: the module runs in JupyterLite's kernel
// worker, which cannot touch the page, and the page's xlean extension listens there and
// shows them (jupyterlite/extension/progress.js; docs/lite.md, "Progress").
var xleanProgressChannel = null;
var xleanProgressLast = { text: '', at: 0 };

function xleanProgress(report) {
  var now = Date.now();
  // A download reports every chunk; ten reports a second are enough to watch.
  var sameDownload = report.phase === 'download' && report.text === xleanProgressLast.text;
  if (sameDownload && report.done !== report.total && now - xleanProgressLast.at < 100) return;
  xleanProgressLast = { text: report.text, at: now };
  if (Module['xleanProgress']) return Module['xleanProgress'](report);
  if (ENVIRONMENT_IS_NODE || typeof BroadcastChannel !== 'function') return;
  xleanProgressChannel = xleanProgressChannel || new BroadcastChannel('xlean-progress');
  xleanProgressChannel.postMessage(report);
}

// A pass-through for a response's body that reports the bytes going through as download
// progress named `what`, and calls `atEnd` after the last. The total is the Content-Length,
// except when the response is content-encoded (Content-Length then counts the compressed bytes,
// while the body yields them decompressed) or has none: then the total is null, and only the
// bytes done are shown.
function xleanCounter(response, what, atEnd) {
  var length = Number(response.headers.get('Content-Length'));
  var encoding = response.headers.get('Content-Encoding');
  var total = length > 0 && (!encoding || encoding === 'identity') ? length : null;
  var done = 0;
  return new TransformStream({
    start: function () {
      xleanProgress({ phase: 'download', text: what, done: 0, total: total });
    },
    transform: function (chunk, controller) {
      done += chunk.length;
      xleanProgress({ phase: 'download', text: what, done: done, total: total });
      controller.enqueue(chunk);
    },
    flush: function () {
      // The last chunk's report may have been dropped (ten a second); this one, complete, is not.
      xleanProgress({ phase: 'download', text: what, done: done, total: done });
      atEnd();
    },
  });
}

// The module's own download, counted. Emscripten lets the embedder instantiate the .wasm
// (Module.instantiateWasm, handed emscripten's own receiveInstance); WebAssembly's streaming
// compiler reads the response while a clone of it is counted, so compiling still overlaps
// downloading. Node reads the file from disk as before (nothing to show).
if (
  !ENVIRONMENT_IS_NODE &&
  !Module['instantiateWasm'] &&
  typeof fetch === 'function' &&
  typeof WebAssembly.instantiateStreaming === 'function'
) {
  Module['instantiateWasm'] = function (imports, receiveInstance) {
    var url = findWasmBinary();
    fetch(url, { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
        // The body is counted through a clone: the compiler gets the response fetch gave, for
        // Chrome keeps a module's compiled code (for the next visit) only for such a response,
        // which has a URL and a cache entry; a Response made from a stream has neither.
        response
          .clone()
          .body.pipeThrough(
            xleanCounter(response, 'Downloading the kernel', function () {
              xleanProgress({ phase: 'compile', text: 'Compiling the kernel' });
            })
          )
          .pipeTo(new WritableStream())
          .catch(function () {}); // the compiler reads the same body and reports its failure
        return WebAssembly.instantiateStreaming(response, imports);
      })
      .then(
        function (result) {
          xleanProgress({ phase: 'start', text: 'Starting the kernel' });
          receiveInstance(result.instance, result.module);
        },
        function (e) {
          var why = 'xlean: cannot load the kernel ' + url + ': ' + (e && e.message ? e.message : e);
          xleanProgress({ phase: 'error', text: why });
          try {
            abort(why);
          } catch (_) {}
        }
      );
    return {};
  };
}
