// Lean 4 for CodeMirror 6: a stream tokenizer (the spec `StreamLanguage.define` takes). It is
// written for this project from the Lean 4 reference (lexical structure, keywords, tactics);
// no other editor's grammar is copied. The token names are CodeMirror highlight tags
// (`@lezer/highlight` `tags`, `name.modifier` for a modified tag), so both JupyterLab's theme and
// `classHighlighter` style them.
//
// State across lines: the depth of nested `/- -/` comments (and whether the outermost is a doc
// comment), an unterminated string (Lean strings may span lines), and whether the next name is
// the one a declaration keyword introduces.

/** Words that start or structure declarations and commands. */
const DECLARATIONS = [
  'theorem', 'lemma', 'def', 'example', 'abbrev', 'instance', 'structure', 'class', 'inductive',
  'coinductive', 'axiom', 'opaque', 'macro', 'syntax', 'elab', 'notation', 'infix', 'infixl',
  'infixr', 'prefix', 'postfix',
];
const KEYWORDS = new Set([
  ...DECLARATIONS,
  'where', 'extends', 'deriving', 'with', 'mutual', 'namespace', 'section', 'end', 'open',
  'export', 'import', 'variable', 'universe', 'set_option', 'attribute', 'macro_rules',
  'elab_rules', 'declare_syntax_cat', 'initialize', 'builtin_initialize', 'termination_by',
  'decreasing_by', 'noncomputable', 'partial', 'unsafe', 'private', 'protected', 'public',
  'nonrec', 'local', 'scoped', 'omit', 'include', 'in', 'hiding', 'renaming', 'fun',
  'let', 'have', 'show', 'from', 'suffices', 'by', 'at', 'match', 'if', 'then', 'else', 'do',
  'return', 'for', 'unless', 'mut', 'try', 'catch', 'finally', 'break', 'continue', 'calc',
  'obtain', 'nomatch', 'nofun', 'this', 'sorry', 'Type', 'Prop', 'Sort', 'forall',
]);
/** Binders written as symbols. */
const SYMBOL_KEYWORD = /^[∀∃λΠΣ]/u;
/** Common tactics (the names of `by` blocks), styled like built-in names. */
const TACTICS = new Set([
  'intro', 'intros', 'rintro', 'exact', 'apply', 'refine', 'rfl', 'simp', 'simp_all', 'dsimp',
  'simpa', 'omega', 'rw', 'rwa', 'rewrite', 'erw', 'cases', 'rcases', 'induction', 'constructor',
  'exists', 'use', 'assumption', 'contradiction', 'exfalso', 'trivial', 'decide', 'norm_num',
  'linarith', 'nlinarith', 'positivity', 'ring', 'ring_nf', 'field_simp', 'unfold', 'specialize',
  'generalize', 'subst', 'injection', 'funext', 'ext', 'congr', 'gcongr', 'aesop', 'split',
  'left', 'right', 'repeat', 'first', 'all_goals', 'any_goals', 'case', 'next', 'focus', 'skip',
  'done', 'admit', 'rename_i', 'revert', 'clear', 'change', 'conv', 'exact?', 'apply?', 'simp?',
  'rw?', 'infer_instance', 'native_decide', 'symm', 'trans',
]);
const CONSTANTS = new Set(['true', 'false', 'True', 'False']);

// Names: letters (any script; λ Π Σ are taken first as keywords), `_`, then also digits, `'`,
// subscripts, and a trailing `!` or `?`; or anything in «guillemets». Dotted parts are separate
// tokens.
const NAME = /^(?:«[^»]*»|[\p{L}_][\p{L}\p{N}_'₀-₉ₐ-ₜᵢ-ᵪ]*[!?]?)/u;
const NUMBER = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)/;
const ESCAPE = /^\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.|$)/;
const CHAR = /^'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^\\'])'/u;
const OPERATOR = /^(?::=|[:=<>+\-*/|&^%$~!→←↔↦∧∨¬×∘≠≤≥∈∉⊆⊂∪∩∣·⁻¹▸⟶]+)/u;

/** Inside a block comment (depth > 0): up to where it ends or the end of the line. */
function blockComment(stream, state) {
  while (!stream.eol()) {
    if (stream.match('/-')) state.depth++;
    else if (stream.match('-/')) {
      if (--state.depth === 0) break;
    } else stream.next();
  }
  return state.doc ? 'docComment' : 'blockComment';
}

/** Inside a string: an escape, or text up to the next escape, the closing quote or the line's end. */
function stringBody(stream, state) {
  // An escape is a token of its own (not glued to the opening quote).
  if (stream.current() === '' && stream.match(ESCAPE)) return 'string.special';
  while (!stream.eol()) {
    const ch = stream.peek();
    if (ch === '\\') return 'string';
    stream.next();
    if (ch === '"') {
      state.inString = false;
      break;
    }
  }
  return 'string';
}

/**
 * A name: a keyword, the name a declaration introduces (`declaring`: the token before was a
 * declaration keyword), a tactic, a constant, or a plain name.
 */
function name(word, declaring, state) {
  if (KEYWORDS.has(word)) {
    state.declaring = DECLARATIONS.includes(word);
    return 'keyword';
  }
  if (declaring) return 'variableName.definition';
  if (TACTICS.has(word)) return 'variableName.standard';
  if (CONSTANTS.has(word)) return 'atom';
  return 'variableName';
}

function token(stream, state) {
  if (state.depth > 0) return blockComment(stream, state);
  if (state.inString) return stringBody(stream, state);
  if (stream.eatSpace()) return null;
  if (stream.match('--')) {
    stream.skipToEnd();
    return 'lineComment';
  }
  if (stream.match('/-')) {
    state.depth = 1;
    state.doc = stream.match(/^[-!](?!\/)/) != null;
    return blockComment(stream, state);
  }
  // Only the token right after a declaration keyword is the declared name.
  const declaring = state.declaring;
  state.declaring = false;
  if (stream.eat('"')) {
    state.inString = true;
    return stringBody(stream, state);
  }
  if (stream.match(CHAR)) return 'character';
  if (stream.match(/^@\[[^\]]*\]?/)) return 'meta';
  if (stream.match(/^#[A-Za-z_][\w]*/)) return 'keyword';
  if (stream.match(NUMBER)) return 'number';
  if (stream.match(SYMBOL_KEYWORD)) return 'keyword';
  const word = stream.match(NAME);
  if (word) return name(word[0], declaring, state);
  if (stream.match(OPERATOR)) return 'operator';
  if (stream.match(/^[()[\]{}⟨⟩⦃⦄]/u)) return 'bracket';
  stream.next();
  return null;
}

/** The spec for `StreamLanguage.define`. */
export const lean4 = {
  name: 'lean4',
  startState: () => ({ depth: 0, doc: false, inString: false, declaring: false }),
  copyState: (s) => ({ ...s }),
  token,
  languageData: {
    commentTokens: { line: '--', block: { open: '/-', close: '-/' } },
    closeBrackets: { brackets: ['(', '[', '{', '"', '⟨'] },
  },
};
