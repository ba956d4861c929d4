// The JupyterLab plugins: the language (below) and the kernel watchdog (kernel-watchdog.js).
//
// The language plugin registers Lean 4 with JupyterLab's CodeMirror language registry under
// the name, alias, MIME type and file extension the xlean kernel reports in its `language_info`
// (lean-wasm/kernel/xlean_interpreter.cpp: codemirror_mode `lean4`, mimetype `text/x-lean4`,
// file_extension `.lean`). A notebook on the xlean kernel finds the language through them.
//
// `syntaxHighlighting(classHighlighter)`: JupyterLab's own highlight style gives spans generated
// class names (`ͼ1a` …) that change between builds; the class highlighter adds the stable
// `tok-keyword`, `tok-comment`, `tok-string` … classes next to them, for the browser test and for
// anyone's CSS. It is part of the Lean language support, so other languages' editors are
// untouched.
//
// The second plugin (progress.js) shows the kernel's loading progress in the page.

import { LanguageSupport, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { classHighlighter } from '@lezer/highlight';

import { kernelWatchdog } from './kernel-watchdog.js';
import { lean4 } from './lean.js';
import { progressPlugin } from './progress.js';

/** How JupyterLab knows the language (the kernel's `language_info`, checked by xtask's tests). */
export const LEAN_LANGUAGE = {
  name: 'lean4',
  displayName: 'Lean 4',
  alias: ['lean'],
  mime: 'text/x-lean4',
  extensions: ['lean'],
};

const plugin = {
  id: '@xlean/jupyterlab-extension:lean-language',
  description: 'Lean 4 syntax highlighting for notebook cells and .lean files.',
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  activate: (app, languages) => {
    const support = new LanguageSupport(StreamLanguage.define(lean4), [
      syntaxHighlighting(classHighlighter),
    ]);
    languages.addLanguage({ ...LEAN_LANGUAGE, support, load: async () => support });
  },
};

// The kernel watchdog (kernel-watchdog.js) and the loading progress (progress.js) ship in the same
// extension: one package for the site.
export default [plugin, kernelWatchdog, progressPlugin];
