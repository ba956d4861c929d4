// xlean --pre-js. Runs inside the module factory (createXeusModule), after `Module` exists and
// before the runtime reads Module.print/printErr or starts the C runtime.
//
// 1. Lean's paths in the module's environment.
// 2. The stdout/stderr capture that lean-wasm/kernel/stdio_capture.cpp drives (`xleanStdio`).

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
