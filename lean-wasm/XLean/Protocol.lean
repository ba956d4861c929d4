module

/-
The JSON replies of the xlean kernel's exported functions (`XLean.Export`), built here from plain
data so that this module needs only `Lean.Data.Json` and can be checked on its own.
`docs/kernel.md` documents every shape; the C++ interpreter parses them. Field names are
snake_case; every object is written with `Json.compress` (one line, keys in sorted order).
-/
public import Lean.Data.Json
public import XLean.Text

public section

namespace XLean.Protocol
open Lean

/-- A Lean message, positioned in the cell: lines from 1, columns from 0, both counted in code
points (Lean's `Position`). A message without an end position ends where it starts. -/
structure Diagnostic where
  severity : String  -- "info" | "warning" | "error"
  line : Nat
  col : Nat
  endLine : Nat
  endCol : Nat
  text : String
  deriving Inhabited, Repr, BEq

/-- `line:col: severity: text`, the form the kernel shows (Lean's command line form minus the
file name). -/
def Diagnostic.render (d : Diagnostic) : String :=
  s!"{d.line}:{d.col}: {d.severity}: {d.text}"

/-- One output of a cell, in the order the cell produced it. -/
inductive Output where
  | message (d : Diagnostic)
  /-- A MIME bundle (JSON object MIME type ↦ content) for `display_data`. -/
  | display (data : Json)
  /-- Text the cell's code wrote to `stdout`/`stderr` outside of Lean's own capture. -/
  | stream (name : String) (text : String)
  deriving Inhabited

def Output.toJson : Output → Json
  | .message d => Json.mkObj [
      ("kind", "message"), ("severity", d.severity),
      ("line", d.line), ("col", d.col), ("end_line", d.endLine), ("end_col", d.endCol),
      ("text", d.text)]
  | .display data => Json.mkObj [("kind", "display"), ("data", data)]
  | .stream name text => Json.mkObj [("kind", "stream"), ("name", name), ("text", text)]

/-- The MIME bundle of a display frame's payload (`XLean.Display.encode`); `none` when the payload
is not a JSON object (a hand-made frame, or invalid JSON given to `Display.json`). -/
def displayData? (payload : String) : Option Json :=
  match Json.parse payload with
  | .ok j@(.obj _) => some j
  | _ => none

/-- The outputs of one message: the message itself, or, when its text carries display frames,
the displays and the text around them (each non-blank run of text keeps the message's position
and severity). -/
def outputsOfDiagnostic (d : Diagnostic) : Array Output := Id.run do
  if !Text.hasFrame d.text then return #[.message d]
  let mut out := #[]
  for piece in Text.splitFrames d.text do
    match piece with
    | .text s =>
      let s := s.trimAscii.copy
      if !s.isEmpty then out := out.push (.message { d with text := s })
    | .frame payload =>
      match displayData? payload with
      | some data => out := out.push (.display data)
      | none => out := out.push (.message { d with
          severity := "warning", text := s!"xlean: invalid display payload: {payload}" })
  return out

/-- The outputs of text written to a stream: the text, with any display frames cut out. -/
def outputsOfStream (name text : String) : Array Output := Id.run do
  if text.isEmpty then return #[]
  if !Text.hasFrame text then return #[.stream name text]
  let mut out := #[]
  for piece in Text.splitFrames text do
    match piece with
    | .text s => out := out.push (.stream name s)
    | .frame payload =>
      match displayData? payload with
      | some data => out := out.push (.display data)
      | none => out := out.push (.stream name payload)
  return out

/-- The reply of `xlean_execute`. `status` is `"error"` exactly when some output is an error
message; `evalue` is then the first error, rendered. -/
def executeReply (outputs : Array Output) (cell : Nat) : Json :=
  let diags := outputs.filterMap fun | .message d => some d | _ => none
  let errors := diags.filter (·.severity == "error")
  let warnings := diags.filter (·.severity == "warning")
  let base := [
    ("status", toJson (if errors.isEmpty then "ok" else "error")),
    ("execution_count", toJson cell),
    ("error_count", toJson errors.size),
    ("warning_count", toJson warnings.size),
    ("outputs", Json.arr (outputs.map Output.toJson))]
  match errors[0]? with
  | some e => Json.mkObj (base ++ [("ename", toJson "Lean error"), ("evalue", toJson e.render)])
  | none => Json.mkObj base

/-- A completion candidate: the text that replaces `[cursor_start, cursor_end)` and what it is
("keyword", "namespace", or a constant kind: "def", "theorem", "axiom", "inductive",
"constructor", "recursor", "quot", "opaque"). -/
structure Candidate where
  text : String
  kind : String
  deriving Inhabited, Repr, BEq

def completeReply (start stop : Nat) (cands : Array Candidate) : Json :=
  Json.mkObj [
    ("status", "ok"),
    ("cursor_start", start), ("cursor_end", stop),
    ("matches", Json.arr (cands.map (toJson ·.text))),
    ("items", Json.arr (cands.map fun c => Json.mkObj [("text", c.text), ("kind", c.kind)]))]

/-- What inspection found about a constant. -/
structure ConstInfo where
  name : String
  kind : String
  signature : String
  doc? : Option String
  deriving Inhabited, Repr

/-- The Jupyter `inspect_reply` payload: `found`, and a MIME bundle ready for `data`. -/
def inspectReply : Option ConstInfo → Json
  | none => Json.mkObj [("status", "ok"), ("found", false), ("data", Json.mkObj [])]
  | some c =>
    let docPart := match c.doc? with
      | some d => "\n\n" ++ d
      | none => ""
    let plain := c.signature ++ docPart
    let md := "```lean\n" ++ c.signature ++ "\n```" ++ docPart
    Json.mkObj [
      ("status", "ok"), ("found", true),
      ("name", c.name), ("kind", c.kind), ("signature", c.signature),
      ("doc", match c.doc? with | some d => toJson d | none => Json.null),
      ("data", Json.mkObj [("text/plain", plain), ("text/markdown", md)])]

/-- The Jupyter `is_complete_reply` payload. `indent` is given only for `"incomplete"`. -/
def isCompleteReply (status : String) : Json :=
  if status == "incomplete" then
    Json.mkObj [("status", status), ("indent", "  ")]
  else
    Json.mkObj [("status", status)]

/-- The reply of `xlean_init`. -/
def initReply (ok : Bool) (searchPath imports : Array String) (error? : Option String) : Json :=
  Json.mkObj <|
    [("status", toJson (if ok then "ok" else "error")),
     ("search_path", toJson searchPath), ("imports", toJson imports)] ++
    (match error? with | some e => [("error", toJson e)] | none => [])

end XLean.Protocol
