module

/-
The xlean REPL: a notebook session over Lean's synchronous frontend.

* A cell is parsed and elaborated command by command with `Parser.parseCommand` and
  `Command.elabCommandTopLevel`, the pieces `Lean.Elab.Frontend` is made of, not with the
  snapshot/task pipeline of the language server (`Language.Lean.process`): the wasm runtime has
  one thread and emulates tasks, and `Elab.async` is switched off, so everything happens in the
  call and nothing is left running when `execute` returns.
* Lean 4.28's `elabCommandTopLevel` starts every command with an empty message log and empty info
  trees, so the stock loop ends with the last command's messages only. This loop takes messages,
  info trees and snapshot-task diagnostics after every command.
* The command state (environment, scopes with namespaces, `open`s, options, `variable`s, universe
  names) is kept from cell to cell.
* `import` lines may open any cell. Modules already imported are skipped. When a cell names new
  modules, they are loaded on top of the modules already in memory (the kept `ImportState`, so no
  `.olean` is read twice), a new environment is built from all of them, and the earlier cells are
  elaborated again on it (see `Session.extendImports` for why, and for what that costs).
-/
public import Lean.Elab.Frontend
public import Lean.Elab.Import
public import Lean.PrettyPrinter
public import Lean.DocString
public import XLean.Protocol

public section

namespace XLean
open Lean Elab

/-- The main module of the notebook's environment (names of private and auxiliary declarations
are built from it). -/
def notebookModule : Name := `Notebook

/-- A notebook session: everything kept between requests. -/
structure Session where
  /-- Options every cell starts from (`Elab.async` off). -/
  opts : Options
  /-- The imports so far, in the order they were requested. -/
  imports : Array Import
  /-- The module data loaded for `imports` (compacted regions included). Later imports extend it. -/
  importState : ImportState
  /-- The state after the last cell: environment and scopes. -/
  cmdState : Command.State
  /-- The cells elaborated on the current import set, replayed when it grows. -/
  history : Array String := #[]
  /-- Info trees of the last cell, one or more per command (kept for the last cell only, so that
  memory does not grow with the notebook). -/
  lastInfoTrees : Array InfoTree := #[]
  /-- Number of `execute` requests so far (Jupyter's execution count). -/
  executionCount : Nat := 0

/-- Loads `newImports` on top of `st` (modules already in `st` are not read again) and builds an
environment containing everything in `all`; this is `Lean.importModules` split in two. -/
def importOnTop (st : ImportState) (newImports all : Array Import) (opts : Options) :
    IO (ImportState × Environment) := do
  for imp in newImports do
    if imp.module.isAnonymous then
      throw <| IO.userError "import failed, trying to import module with anonymous name"
  -- `withImporting` switches initializer execution off again when it ends, so the `initialize`
  -- declarations of modules a later cell imports would not run: switch it on for every import.
  unsafe enableInitializersExecution
  withImporting do
    let (_, st) ← (importModulesCore newImports).run st
    let env ← finalizeImport st all opts (leakEnv := false) (loadExts := true)
    return (st, env.setMainModule notebookModule)

/-- The same, starting with nothing loaded. -/
def importFresh (imports : Array Import) (opts : Options) : IO (ImportState × Environment) := do
  unsafe enableInitializersExecution
  withImporting do
    let (_, st) ← (importModulesCore imports).run
    let env ← finalizeImport st imports opts (leakEnv := false) (loadExts := true)
    return (st, env.setMainModule notebookModule)

/-- Runs a command-elaboration action on `st` as the frontend does, outside any snapshot. -/
def runCommandElabM {α : Type} (inputCtx : Parser.InputContext) (cmdPos : String.Pos.Raw)
    (st : Command.State) (x : Command.CommandElabM α) : IO (α × Command.State) := do
  let ctx : Command.Context := {
    fileName := inputCtx.fileName
    fileMap := inputCtx.fileMap
    cmdPos
    snap? := none
    cancelTk? := none
  }
  match ← (x ctx |>.run st).toIO' with
  | .ok r => return r
  | .error e => throw <| IO.userError s!"internal error: {← e.toMessageData.toString}"

def severityName : MessageSeverity → String
  | .information => "info"
  | .warning => "warning"
  | .error => "error"

/-- A Lean message as the kernel reports it (silent messages are left out by the caller). -/
def toDiagnostic (m : Message) : BaseIO Protocol.Diagnostic := do
  let text ← m.data.toString
  let text := if m.caption.isEmpty then text else m.caption ++ ":\n" ++ text
  let stop := m.endPos.getD m.pos
  return {
    severity := severityName m.severity
    line := m.pos.line, col := m.pos.column
    endLine := stop.line, endCol := stop.column
    text := Text.dropTrailingNewlines text }

def outputsOfMessages (msgs : Array Message) : BaseIO (Array Protocol.Output) := do
  let mut out := #[]
  for m in msgs do
    unless m.isSilent do
      out := out ++ Protocol.outputsOfDiagnostic (← toDiagnostic m)
  return out

/-- Runs `x` with `stdout` and `stderr` sent to buffers; returns what was written to each. Lean's
`#eval` already captures the output of the code it runs into a message; this catches what other
commands write (and `#eval` output, should its capture ever be bypassed). -/
def captureStreams {α : Type} (x : IO α) : IO (String × String × α) := do
  let outBuf ← IO.mkRef ({} : IO.FS.Stream.Buffer)
  let errBuf ← IO.mkRef ({} : IO.FS.Stream.Buffer)
  let oldOut ← IO.setStdout (IO.FS.Stream.ofBuffer outBuf)
  let oldErr ← IO.setStderr (IO.FS.Stream.ofBuffer errBuf)
  let restore : IO Unit := do
    discard <| IO.setStdout oldOut
    discard <| IO.setStderr oldErr
  let a ← try x finally restore
  let out := Text.decodeUtf8Lossy (← outBuf.get).data
  let err := Text.decodeUtf8Lossy (← errBuf.get).data
  return (out, err, a)

/-- Messages and info trees reported through snapshot tasks (with `Elab.async` off there are
normally none; taken so that nothing reported that way is lost). Waits for the tasks. -/
def snapshotReports (tasks : Array (Language.SnapshotTask Language.SnapshotTree)) :
    BaseIO (Array Message × Array InfoTree) := do
  let mut msgs := #[]
  let mut trees := #[]
  for t in tasks do
    for snap in t.get.getAll do
      msgs := msgs ++ snap.diagnostics.msgLog.unreported.toArray
      if let some tree := snap.infoTree? then trees := trees.push tree
  return (msgs, trees)

/-- Commands that only show something and change no state: skipped when earlier cells are
replayed on a new import set. -/
def queryCommandKinds : List SyntaxNodeKind :=
  -- plain names (not ``double-quoted``): a kind that is named differently in some Lean version
  -- then only costs a replay, it does not break the build
  [`Lean.Parser.Command.check, `Lean.Parser.Command.check_failure, `Lean.reduceCmd,
   `Lean.Parser.Command.print, `Lean.Parser.Command.printAxioms, `Lean.Parser.Command.synth]

/-- What running the commands of a cell gave. -/
structure CommandsResult where
  outputs : Array Protocol.Output := #[]
  infoTrees : Array InfoTree := #[]
  cmdState : Command.State

/-- Parses and elaborates the commands of `inputCtx` from parser state `ps` on, starting from
`st`, collecting every command's messages, info trees and stream output in order. With `replay`,
query commands are skipped and stream output is dropped. -/
partial def runCommands (inputCtx : Parser.InputContext) (ps : Parser.ModuleParserState)
    (st : Command.State) (replay := false) (acc : CommandsResult := { cmdState := st }) :
    IO CommandsResult := do
  let scope := st.scopes.head!
  let pmctx : Parser.ParserModuleContext := {
    env := st.env, options := scope.opts
    currNamespace := scope.currNamespace, openDecls := scope.openDecls }
  let (cmd, ps', parseLog) := Parser.parseCommand inputCtx pmctx ps {}
  let mut outputs := acc.outputs ++ (← outputsOfMessages parseLog.reportedPlusUnreported.toArray)
  let mut trees := acc.infoTrees
  let mut st := st
  unless replay && queryCommandKinds.contains cmd.getKind do
    let (out, err, ((), st')) ← captureStreams <|
      runCommandElabM inputCtx ps.pos { st with messages := {} } (Command.elabCommandTopLevel cmd)
    let (snapMsgs, snapTrees) ← snapshotReports st'.snapshotTasks
    outputs := outputs ++ (← outputsOfMessages (st'.messages.reportedPlusUnreported.toArray ++ snapMsgs))
    unless replay do
      outputs := outputs ++ Protocol.outputsOfStream "stdout" out ++ Protocol.outputsOfStream "stderr" err
    trees := trees ++ st'.infoState.trees.toArray ++ snapTrees
    st := { st' with messages := {}, snapshotTasks := #[], infoState := { st'.infoState with trees := {} } }
  let acc : CommandsResult := { outputs, infoTrees := trees, cmdState := st }
  if Parser.isTerminalCommand cmd then
    return acc
  else
    runCommands inputCtx ps' st replay acc

/-- Options every session starts from. -/
def sessionOptions : Options :=
  Elab.async.set {} false

/-- A message at the start of the cell (import failures, replay reports). -/
def cellNote (severity text : String) (line col : Nat := 0) : Protocol.Output :=
  .message { severity, line := line + 1, col, endLine := line + 1, endCol := col, text }

namespace Session

/-- A session with `imports` loaded: the expensive part of starting the kernel. -/
def create (imports : Array Import) (opts := sessionOptions) : IO Session := do
  let (importState, env) ← importFresh imports opts
  return { opts, imports, importState, cmdState := Command.mkState env {} opts }

/--
Adds modules to a running session.

Why not simply `processHeader` again with the union (what the prior art did for the first cell,
and why its fifth fresh header crashed): every `importModules` reads every `.olean` of the closure
again (in wasm by copying the whole file into the heap, as there is no `mmap`), into compacted
regions that nothing frees (`Environment.freeRegions` is only safe once no object of the
environment is alive), so each call adds the full size of `Init` (~350 MB) to a heap that cannot
exceed 4 GB. Here the loaded modules are kept in the session's `ImportState` and only the new ones
are read (`importModulesCore` skips modules it has). `[init]` declarations of modules imported
before do not run again either: Lean records the modules whose initializers ran
(natively linked ones ran at start-up).

An environment cannot take new imports after declarations were added to it, so the new one is
built from all imports, and the cells run so far are elaborated again on it (their messages are
dropped except errors, reported as warnings of the current cell; query commands such as `#check`
are skipped). Costs: the time to re-elaborate the notebook so far, side effects of replayed
`#eval`s happen again, and a declaration whose name a new module now also declares fails in the
replay (reported).
-/
def extendImports (s : Session) (newImports : Array Import) : IO (Session × Array Protocol.Output) := do
  let all := s.imports ++ newImports
  let (importState, env) ← importOnTop s.importState newImports all s.opts
  let mut st := Command.mkState env {} s.opts
  let mut notes := #[]
  let mut index := 0
  for cell in s.history do
    index := index + 1
    let inputCtx := Parser.mkInputContext cell s!"<replay {index}>"
    let (_, ps, _) ← Parser.parseHeader inputCtx
    let r ← runCommands inputCtx ps st (replay := true)
    st := r.cmdState
    for o in r.outputs do
      if let .message d := o then
        if d.severity == "error" then
          notes := notes.push <| cellNote "warning"
            s!"while replaying an earlier cell on the new imports ({d.line}:{d.col} there): {d.text}"
  return ({ s with imports := all, importState, cmdState := st }, notes)

/-- Distinct modules of `imports` that the session has not imported yet. -/
def missingImports (s : Session) (imports : Array Import) : Array Import :=
  imports.foldl (init := #[]) fun acc i =>
    if s.imports.any (·.module == i.module) || acc.any (·.module == i.module) then acc
    else acc.push i

/-- Runs a cell; returns the new session and the outputs. On failure of the imports the cell's
commands are not run and the session keeps its environment. -/
def execute (s : Session) (cell : String) : IO (Session × Array Protocol.Output) := do
  let s := { s with executionCount := s.executionCount + 1 }
  let inputCtx := Parser.mkInputContext cell s!"<cell {s.executionCount}>"
  let (header, ps, headerLog) ← Parser.parseHeader inputCtx
  -- `parseHeader` returns a `TSyntax`; `HeaderSyntax` (its abbreviation) carries the accessors
  let header : HeaderSyntax := header
  let mut outputs ← outputsOfMessages headerLog.reportedPlusUnreported.toArray
  let headerPos := inputCtx.fileMap.toPosition header.startPos
  if header.isModule then
    outputs := outputs.push <| cellNote "warning" "xlean: `module` is ignored in a notebook"
      (headerPos.line - 1) headerPos.column
  -- `imports` prepends `Init` unless the header says `prelude`.
  if header.imports.size == (header.imports (includeInit := false)).size then
    outputs := outputs.push <| cellNote "warning"
      "xlean: `prelude` is ignored in a notebook (`Init` stays imported)"
      (headerPos.line - 1) headerPos.column
  let mut s := s
  let newImports := s.missingImports (header.imports (includeInit := false))
  unless newImports.isEmpty do
    try
      let (s', notes) ← s.extendImports newImports
      s := s'
      outputs := outputs ++ notes
    catch e =>
      outputs := outputs.push <| cellNote "error" (toString e) (headerPos.line - 1) headerPos.column
      return ({ s with lastInfoTrees := #[] }, outputs)
  let r ← runCommands inputCtx ps s.cmdState
  s := { s with
    cmdState := r.cmdState, history := s.history.push cell, lastInfoTrees := r.infoTrees }
  return (s, outputs ++ r.outputs)

/-- The innermost scope after the last cell: namespace, `open`s and options in effect. -/
def scope (s : Session) : Command.Scope :=
  s.cmdState.scopes.head!

end Session

/-! ## Completion, inspection, completeness -/

def constKind : ConstantInfo → String
  | .axiomInfo _ => "axiom"
  | .defnInfo _ => "def"
  | .thmInfo _ => "theorem"
  | .opaqueInfo _ => "opaque"
  | .quotInfo _ => "quot"
  | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor"
  | .recInfo _ => "recursor"

/-- Namespaces under which a name typed in the current scope is looked up: the root, the current
namespace and its parents, and the `open`ed namespaces. -/
def lookupNamespaces (scope : Command.Scope) : Array Name := Id.run do
  let mut out := #[Name.anonymous]
  let mut ns := scope.currNamespace
  while !ns.isAnonymous do
    out := out.push ns
    ns := ns.getPrefix
  for d in scope.openDecls do
    if let .simple opened _ := d then
      unless out.contains opened do out := out.push opened
  return out

/-- Completion candidates for `word` (the text before the cursor, see `Text.wordBefore`):
declarations and namespaces whose last component starts with the word's last component, reachable
from the scope the way Lean resolves names, and keywords. `Nat.su` offers `Nat.succ`, `Nat.sub`…;
with `open Nat`, `su` offers `succ`. -/
def completions (env : Environment) (scope : Command.Scope) (word : String) (limit := 200) :
    Array Protocol.Candidate := Id.run do
  if word.isEmpty then return #[]
  let mut found : Std.HashMap String String := {}
  -- keywords (`theorem`, `#eval`, …) from the token table of the environment
  if !word.contains '.' then
    for tk in (Parser.getTokenTable env).findPrefix word do
      if let some c := tk.toList.head? then
        if c.isAlpha || c == '#' then found := found.insert tk "keyword"
  if word.toList.head? == some '#' then
    return sortCandidates found limit
  let parts := word.splitOn "."
  let lastPart := parts.getLast!
  -- what the user typed before the last part, dots included
  let qualText := String.join (parts.dropLast.map (· ++ "."))
  let qual := (parts.dropLast).foldl (fun n p => if p.isEmpty then n else Name.str n p) .anonymous
  let targets := (lookupNamespaces scope).map (· ++ qual)
  found := env.constants.fold (fun found n ci => Id.run do
    if n.isInternal || n.hasMacroScopes then return found
    let mut found := found
    -- the declaration itself
    if let .str p s := n then
      if s.startsWith lastPart && targets.contains p then
        found := found.insert (qualText ++ s) (constKind ci)
    -- the namespaces it lies in (`Lean.El` → `Lean.Elab`)
    let mut m := n.getPrefix
    while !m.isAnonymous do
      if let .str p s := m then
        if s.startsWith lastPart && targets.contains p && !found.contains (qualText ++ s) then
          found := found.insert (qualText ++ s) "namespace"
      m := m.getPrefix
    return found) found
  return sortCandidates found limit
where
  /-- Shortest first, then alphabetical; at most `limit`. -/
  sortCandidates (found : Std.HashMap String String) (limit : Nat) : Array Protocol.Candidate :=
    let all := found.toArray.qsort fun (a, _) (b, _) =>
      a.length < b.length || (a.length == b.length && a < b)
    (all.extract 0 limit).map fun (text, kind) => { text, kind }

/-- The constant that `word` names in the scope (Lean's name resolution; the longest dotted prefix
of the word that names a constant, so that `Nat.succ.inj` and `x.succ` still find something). -/
def resolveConstant? (env : Environment) (scope : Command.Scope) (word : String) :
    Option Name := Id.run do
  let comps := word.toName.components
  for k in [0:comps.length] do
    let n := (comps.take (comps.length - k)).foldl Name.append .anonymous
    let cands := ResolveName.resolveGlobalName env scope.opts scope.currNamespace scope.openDecls n
    if let some (c, _) := cands.find? (fun (c, fields) => fields.isEmpty && env.contains c) then
      return some c
  return none

/-- Signature, kind and docstring of the constant under the cursor. -/
def inspectAt (s : Session) (code : String) (cursor : Nat) : IO (Option Protocol.ConstInfo) := do
  let word := Text.wordAt code cursor
  if word.text.isEmpty then return none
  let env := s.cmdState.env
  let some name := resolveConstant? env s.scope word.text | return none
  let some ci := env.find? name | return none
  let inputCtx := Parser.mkInputContext code "<inspect>"
  -- the state after this is dropped: inspection changes nothing
  let (sig, _) ← runCommandElabM inputCtx ⟨0⟩ { s.cmdState with messages := {} } <|
    Command.liftTermElabM (PrettyPrinter.ppSignature name)
  let doc? ← findDocString? env name
  return some { name := name.toString, kind := constKind ci, signature := toString sig.fmt, doc? }

/-- `"complete"`, `"incomplete"` (the parser ran out of input inside a command: an unfinished
term, an open bracket, comment or string) or `"invalid"` (a syntax error before the end).
Parses with the session's environment and scope (notations defined in earlier cells count);
elaborates nothing. -/
def isComplete (s : Session) (code : String) : IO String := do
  let inputCtx := Parser.mkInputContext code "<is_complete>"
  let (_, ps, headerLog) ← Parser.parseHeader inputCtx
  let scope := s.scope
  let pmctx : Parser.ParserModuleContext := {
    env := s.cmdState.env, options := scope.opts
    currNamespace := scope.currNamespace, openDecls := scope.openDecls }
  -- every command consumes input, so `fuel` (one per code point) is never the limit
  let rec loop (ps : Parser.ModuleParserState) (log : MessageLog) : Nat → MessageLog
    | 0 => log
    | fuel + 1 =>
      let (cmd, ps', log) := Parser.parseCommand inputCtx pmctx ps log
      if Parser.isTerminalCommand cmd then log else loop ps' log fuel
  let log := loop ps headerLog (code.length + 1)
  let errors := log.reportedPlusUnreported.toArray.filter (·.severity == .error)
  if errors.isEmpty then return "complete"
  let (endLine, endCol) := Text.endOfContent code
  let atEnd (m : Message) : Bool :=
    m.pos.line > endLine || (m.pos.line == endLine && m.pos.column ≥ endCol)
  return if errors.all atEnd then "incomplete" else "invalid"

end XLean
