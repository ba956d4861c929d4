// The kernel watchdog: tells the user when a notebook's kernel has been busy for a long time and
// offers to restart it.
//
// Why: the kernel runs in a web worker that answers one request at a time and cannot be
// interrupted (Kernel > Interrupt is a message, which the busy worker reads only after the cell). A command that
// never returns (a proof search that does not end, a runaway loop in #eval) leaves the cell
// running forever, with nothing to say so. Only a restart (a new worker) ends it.
//
// What: once a kernel has been busy without a break for LIMIT seconds, a notification says so and
// offers "Restart kernel". It never restarts by itself: a long proof is not a stuck one, and a
// restart loses every definition. The limit (60 s) is long enough that a cell of ordinary
// teaching material never meets it and short enough that a learner who waits for a stuck cell
// hears why within a minute; it only costs a notice when a proof really is that long. It can be
// changed per browser, for a class with long proofs or for a test: localStorage
// `xlean:watchdog-seconds` (read when a cell starts). See docs/lite.md.
//
// It needs no JupyterLab package of its own: notebooks are found in the shell, notifications
// and the restart go through JupyterLab's commands.

export const WATCHDOG_SECONDS = 60;
export const WATCHDOG_SETTING = 'xlean:watchdog-seconds';
export const RESTART_COMMAND = 'xlean:restart-busy-kernel';

/** The limit in ms: the browser's setting if it is a positive number, else WATCHDOG_SECONDS. */
function limitMs() {
  const set = Number(globalThis.localStorage?.getItem(WATCHDOG_SETTING));
  return (set > 0 ? set : WATCHDOG_SECONDS) * 1000;
}

/** Watches one notebook's session: a timer runs while its kernel is busy. */
function watch(app, panel) {
  const session = panel.sessionContext;
  let timer = null;
  session.statusChanged.connect((_, status) => {
    if (status !== 'busy') {
      clearTimeout(timer);
      timer = null;
      return;
    }
    if (timer !== null) return;
    const ms = limitMs();
    timer = setTimeout(() => {
      timer = null;
      warn(app, panel, ms);
    }, ms);
  });
}

function warn(app, panel, ms) {
  const seconds = Math.round(ms / 1000);
  app.commands.execute('apputils:notify', {
    type: 'warning',
    message:
      `The Lean kernel of ${panel.title.label} has been working for ${seconds} s without an answer. ` +
      'A long proof can take this long; if the cell is stuck, restart the kernel ' +
      '(its definitions are lost: run the cells again).',
    options: {
      autoClose: false,
      actions: [{ label: 'Restart kernel', commandId: RESTART_COMMAND, args: { id: panel.id } }],
    },
  });
}

export const kernelWatchdog = {
  id: '@xlean/jupyterlab-extension:kernel-watchdog',
  description: 'Tells the user when a kernel has been busy for long and offers a restart.',
  autoStart: true,
  activate: (app) => {
    const watched = new WeakSet();
    const scan = () => {
      for (const widget of app.shell.widgets('main')) {
        if (widget.sessionContext?.statusChanged && !watched.has(widget)) {
          watched.add(widget);
          watch(app, widget);
        }
      }
    };
    app.commands.addCommand(RESTART_COMMAND, {
      label: 'Restart the busy kernel',
      execute: ({ id }) => {
        const panel = Array.from(app.shell.widgets('main')).find((w) => w.id === id);
        return panel?.sessionContext.restartKernel();
      },
    });
    app.shell.layoutModified?.connect(scan);
    app.shell.currentChanged?.connect(scan);
    app.restored.then(scan);
  },
};
