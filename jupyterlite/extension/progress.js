// The kernel's loading progress, shown in the page. The kernel module runs in JupyterLite's
// kernel worker, which cannot touch the page; its glue (lean-wasm/js/pre.js, "Progress") posts
// reports {phase, text, done, total} to the same-origin BroadcastChannel `xlean-progress`. This
// plugin shows the latest one at the top of the page, over the notebook: the phase in words and,
// while downloading, the bytes done out of the total (just the bytes done when the total is not
// known). "ready" is shown briefly, then the display hides; an error stays until the next report.
// One display for the page: reports of every xlean kernel the page runs go to it.

/** The BroadcastChannel the kernel glue reports on. */
export const PROGRESS_CHANNEL = 'xlean-progress';

/** How long "ready" stays visible. */
const READY_MS = 1500;

/** The units bytes are shown in, largest first, with their sizes. */
const UNITS = [
  [1024 * 1024, 'MB'],
  [1024, 'kB'],
  [1, 'B'],
];

/**
 * A report in words: `Downloading the kernel: 3.2 of 10.0 MB`. The unit is the largest the total
 * (else the bytes done) fills, so a small file reads `1.5 of 12.0 kB`, not `0.0 of 0.0 MB`.
 */
export function describe({ text, done, total }) {
  if (typeof done !== 'number') return text;
  const known = typeof total === 'number';
  const [size, unit] = UNITS.find(([size]) => (known ? total : done) >= size) ?? UNITS.at(-1);
  const figure = (n) => (size === 1 ? String(n) : (n / size).toFixed(1));
  return known ? `${text}: ${figure(done)} of ${figure(total)} ${unit}` : `${text}: ${figure(done)} ${unit}`;
}

function makeDisplay() {
  const display = document.createElement('div');
  display.className = 'xlean-progress';
  display.setAttribute('role', 'status');
  display.setAttribute('aria-live', 'polite');
  display.hidden = true;
  Object.assign(display.style, {
    position: 'fixed',
    top: '6px',
    left: '50%',
    transform: 'translateX(-50%)',
    zIndex: '10000',
    padding: '4px 12px',
    borderRadius: '4px',
    border: '1px solid var(--jp-border-color1, #bdbdbd)',
    background: 'var(--jp-layout-color2, #eeeeee)',
    color: 'var(--jp-ui-font-color1, #000000)',
    font: 'var(--jp-ui-font-size1, 13px) var(--jp-ui-font-family, sans-serif)',
  });
  const label = document.createElement('span');
  label.className = 'xlean-progress-text';
  const bar = document.createElement('progress');
  bar.className = 'xlean-progress-bar';
  bar.style.marginLeft = '8px';
  display.append(label, bar);
  return display;
}

function show(display, report, hideLater) {
  display.dataset.phase = report.phase;
  display.querySelector('.xlean-progress-text').textContent = describe(report);
  const bar = display.querySelector('progress');
  bar.hidden = report.phase !== 'download';
  if (typeof report.total === 'number' && report.total > 0) {
    bar.max = report.total;
    bar.value = report.done;
  } else {
    bar.removeAttribute('value'); // indeterminate
  }
  display.hidden = false;
  if (report.phase === 'ready') hideLater();
}

export const progressPlugin = {
  id: '@xlean/jupyterlab-extension:progress',
  description: 'Shows what the xlean kernel is doing while it loads: the phase and the bytes.',
  autoStart: true,
  activate: () => {
    if (typeof BroadcastChannel !== 'function') return;
    const display = makeDisplay();
    document.body.append(display);
    let timer = null;
    const hideLater = () => {
      timer = setTimeout(() => {
        display.hidden = true;
      }, READY_MS);
    };
    new BroadcastChannel(PROGRESS_CHANNEL).onmessage = (event) => {
      clearTimeout(timer);
      show(display, event.data, hideLater);
    };
  },
};
