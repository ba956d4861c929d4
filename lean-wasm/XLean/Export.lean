module

/-
The C interface of the xlean kernel: `@[export]` functions over one global session.

Every function takes Lean strings (and `uint32_t` code-point offsets) and returns a Lean string
holding one JSON object (`docs/kernel.md` has the C declarations and every shape). None of them
fails at the Lean level: an exception inside becomes a JSON reply with `"status": "error"`, so the
C side only has to unwrap a successful `IO` result. The session lives in an `IO.Ref` created by
this module's initializer, so the C side holds no Lean object between calls.
-/
public import XLean.Repl

public section

namespace XLean.Export
open Lean

/-- The session, once `xlean_init` has succeeded. -/
initialize sessionRef : IO.Ref (Option Session) ← IO.mkRef none

/-- The search path used when `xlean_init` gets none and `LEAN_PATH` is unset: where the wasm
module carries the library. -/
def defaultSearchPath : System.SearchPath := ["/lib/lean"]

/-- Lean's version and the protocol version of these replies (raise it on any change of shape). -/
def protocolVersion : Nat := 1

private def errorJson (what : String) (e : IO.Error) : Json :=
  Json.mkObj [("status", "error"), ("error", s!"xlean {what}: {e}")]

private def withSession (what : String) (act : Session → IO Json) : IO String := do
  match ← sessionRef.get with
  | none => return (errorJson what (IO.userError "the kernel is not initialised (call xlean_init first)")).compress
  | some s =>
    try return (← act s).compress
    catch e => return (errorJson what e).compress

/--
`xlean_init(search_path)`: sets the search path (entries separated by `:`; empty: `LEAN_PATH`, or
else `/lib/lean`), enables `[init]` declarations of imported modules, and imports `Init` — plus
`XLean.Display` when its `.olean` is on the search path — into a fresh session. Calling it again
starts a new session (the old one is dropped; the modules it loaded stay in memory).
-/
@[export xlean_init]
def init (searchPath : String) : IO String := do
  try
    let envPath ← IO.getEnv "LEAN_PATH"
    let sp := if searchPath.isEmpty then
        (envPath.map System.SearchPath.parse).getD defaultSearchPath
      else System.SearchPath.parse searchPath
    searchPathRef.set sp
    unsafe enableInitializersExecution
    let mut imports : Array Import := #[{ module := `Init }]
    if ← oleanPresent `XLean.Display then
      imports := imports.push { module := `XLean.Display }
    let s ← Session.create imports
    sessionRef.set (some s)
    return (Protocol.initReply true (sp.toArray.map toString)
      (imports.map (·.module.toString)) none).compress
  catch e =>
    return (Protocol.initReply false #[] #[] (some (toString e))).compress
where
  /-- Is the module's `.olean` on the search path? -/
  oleanPresent (mod : Name) : IO Bool := do
    try (← findOLean mod).pathExists
    catch _ => return false

/-- `xlean_execute(cell)`: runs a cell. See `Session.execute` and `Protocol.executeReply`. -/
@[export xlean_execute]
def execute (cell : String) : IO String := do
  match ← sessionRef.get with
  | none =>
    let note := cellNote "error" "xlean: the kernel is not initialised (xlean_init failed or was not called)"
    return (Protocol.executeReply #[note] 0).compress
  | some s =>
    try
      let (s', outputs) ← s.execute cell
      sessionRef.set (some s')
      return (Protocol.executeReply outputs s'.executionCount).compress
    catch e =>
      -- the session is left as it was before the cell, but the request still counts
      sessionRef.set (some { s with executionCount := s.executionCount + 1 })
      let note := cellNote "error" s!"xlean: internal error: {e}"
      return (Protocol.executeReply #[note] (s.executionCount + 1)).compress

/-- `xlean_complete(code, cursor)`: completion at a code-point offset. -/
@[export xlean_complete]
def complete (code : String) (cursor : UInt32) : IO String :=
  withSession "complete" fun s => do
    let w := Text.wordBefore code cursor.toNat
    let cands := completions s.cmdState.env s.scope w.text
    return Protocol.completeReply w.start w.stop cands

/-- `xlean_inspect(code, cursor)`: type and docstring of the constant under the cursor. -/
@[export xlean_inspect]
def inspect (code : String) (cursor : UInt32) : IO String :=
  withSession "inspect" fun s => do
    return Protocol.inspectReply (← inspectAt s code cursor.toNat)

/-- `xlean_is_complete(code)`: whether a console front end should run the code or read more. -/
@[export xlean_is_complete]
def isComplete (code : String) : IO String :=
  withSession "is_complete" fun s => do
    return Protocol.isCompleteReply (← XLean.isComplete s code)

/-- `xlean_info()`: versions, for `kernel_info_reply` (works before `xlean_init`). -/
@[export xlean_info]
def info : IO String :=
  return (Json.mkObj [
    ("lean_version", Lean.versionString), ("lean_githash", Lean.githash),
    ("protocol", protocolVersion)]).compress

end XLean.Export
