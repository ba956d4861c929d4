// Loads a kernel module the way the JupyterLite xeus worker does, and talks the Jupyter
// protocol to it through xeus-lite's embind API.
//
// The worker: importScripts(xlean.js) (a classic script defining createXeusModule), then
// createXeusModule({locateFile}), wait for the run dependencies, new Module.xkernel(argv),
// .get_server(), .start(), and every message from the front end goes to
// server.notify_listener(msg). Replies and iopub messages come back through self.postMessage;
// input requests through self.get_stdin. notify_listener is synchronous: when it returns, every
// message the request caused has been posted; except for a cell the glue holds until the bundle
// its imports need is loaded, when it returns a promise (`requestAsync`).

import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** The modules under test (each .js with its .wasm beside it), set by the xtask:
 * the shell with the test backend, and the shell with the real backend over the fake Lean. */
export const modulePath = process.env.XLEAN_TEST_MODULE;
export const leanBackendModulePath = process.env.XLEAN_TEST_LEAN_BACKEND_MODULE;

/** `false`, or why a test cannot run (for `test(name, { skip })`). */
export function skipUnless(path, variable) {
  return path
    ? false
    : `${variable} is not set: run these tests through the xtask, which builds the module`;
}
export const skipReason = skipUnless(modulePath, 'XLEAN_TEST_MODULE');

// The worker's global scope. xeus-lite looks up `self.postMessage` and `self.get_stdin` on each
// message, so one global stand-in routes to whichever session is current.
let current = null;
globalThis.self = globalThis.self ?? {};
globalThis.self.postMessage = (msg) => {
  if (!current) throw new Error('a kernel message arrived with no session listening');
  current.posted.push(msg);
};
globalThis.self.get_stdin = () => ({ error: 'no stdin in the kernel tests' });

/** A fresh module instance (its own wasm memory and backend state); resolves when it is ready
 * to make kernels. `print`/`printErr` are the embedder's console (they receive what is written
 * outside a cell). `progress` receives the glue's progress reports (lean-wasm/js/pre.js). */
export async function loadModule({ module = modulePath, print, printErr, progress } = {}) {
  const require = createRequire(import.meta.url);
  const createXeusModule = require(module);
  const dir = path.dirname(module);
  const t0 = performance.now();
  const options = { locateFile: (file) => path.join(dir, file) };
  if (print) options.print = print;
  if (printErr) options.printErr = printErr;
  if (progress) options.xleanProgress = progress;
  const Module = await createXeusModule(options);
  await waitRunDependencies(Module);
  Module.loadMs = performance.now() - t0;
  return Module;
}

// As the worker does: there is no way to ask how many run dependencies are pending, so add one
// and remove it, and wait for the count to reach zero.
function waitRunDependencies(Module) {
  const ready = new Promise((resolve) => {
    Module.monitorRunDependencies = (left) => {
      if (left === 0) resolve();
    };
  });
  Module.addRunDependency('xlean-test');
  Module.removeRunDependency('xlean-test');
  return ready;
}

/** One kernel, as the worker makes it. */
export class KernelSession {
  constructor(Module, argv = ['xlean']) {
    this.posted = [];
    this.session = randomUUID();
    current = this;
    const t0 = performance.now();
    this.kernel = new Module.xkernel(argv);
    this.server = this.kernel.get_server();
    this.kernel.start();
    this.startMs = performance.now() - t0;
  }

  /** Sends one request; returns its reply and every message with it as parent. A request the
   * glue holds (a cell whose imports need a bundle not yet loaded, lean-wasm/js/pre.js) is an
   * error here: send it with `requestAsync`. */
  request(msgType, content, channel = 'shell') {
    const sent = this.send(msgType, content, channel);
    if (sent.held) {
      throw new Error(`the glue held this ${msgType} (it loads a bundle first): use requestAsync`);
    }
    return this.collect(sent);
  }

  /** As `request`, waiting for a held request to be delivered. */
  async requestAsync(msgType, content, channel = 'shell') {
    const sent = this.send(msgType, content, channel);
    await sent.held;
    return this.collect(sent);
  }

  send(msgType, content, channel) {
    current = this;
    const header = {
      msg_id: randomUUID(),
      session: this.session,
      username: 'xlean-test',
      date: new Date().toISOString(),
      msg_type: msgType,
      version: '5.3',
    };
    const first = this.posted.length;
    const t0 = performance.now();
    const held = this.server.notify_listener({
      header,
      parent_header: {},
      metadata: {},
      content,
      channel,
      buffers: [],
    });
    return { header, first, t0, held, msgType, channel };
  }

  collect({ header, first, t0, msgType, channel }) {
    const ms = performance.now() - t0;
    const mine = this.posted
      .slice(first)
      .filter((m) => m.parent_header && m.parent_header.msg_id === header.msg_id);
    const replyType = msgType.replace(/_request$/, '_reply');
    const iopub = mine.filter((m) => m.channel === 'iopub');
    return {
      reply: mine.find((m) => m.header.msg_type === replyType && m.channel === channel),
      iopub,
      // iopub messages other than status and execute_input: what the cell shows.
      outputs: iopub.filter(
        (m) => !['status', 'execute_input'].includes(m.header.msg_type),
      ),
      statuses: iopub
        .filter((m) => m.header.msg_type === 'status')
        .map((m) => m.content.execution_state),
      ms,
    };
  }

  execute(code, options = {}) {
    return this.request('execute_request', executeContent(code, options));
  }

  /** As `execute`, for a cell whose imports may make the glue load a bundle first. */
  executeAsync(code, options = {}) {
    return this.requestAsync('execute_request', executeContent(code, options));
  }
}

function executeContent(code, { silent = false } = {}) {
  return {
    code,
    silent,
    store_history: !silent,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: false,
  };
}

/** The text of every stream output named `name`, concatenated. */
export function streamText(outputs, name) {
  return outputs
    .filter((m) => m.header.msg_type === 'stream' && m.content.name === name)
    .map((m) => m.content.text)
    .join('');
}

/** A compact view of outputs for order checks: ["stream:stdout", "display_data", ...]. */
export function kinds(outputs) {
  return outputs.map((m) =>
    m.header.msg_type === 'stream' ? `stream:${m.content.name}` : m.header.msg_type,
  );
}
