module

/-
Text helpers of the xlean kernel that need nothing but `Init`: the word under a Jupyter cursor and
the display frames inside text output. Kept apart from the modules that import `Lean` so that they
can be checked (and their code generated) on their own.

Cursor positions follow the Jupyter protocol (5.2 and later): an offset in Unicode code points
from the start of the code. Lean's `Position.column` counts code points as well, so no byte
arithmetic happens anywhere in the kernel's interface.
-/
public import XLean.Display

public section

namespace XLean.Text

/-- Characters of a (possibly dotted) identifier, as Lean's tokenizer sees them. `«»`-escaped
identifiers are not recognised at the cursor. -/
def isWordChar (c : Char) : Bool :=
  Lean.isIdFirst c || Lean.isIdRest c || c == '.'

/-- A word of the code: code-point offsets `[start, stop)` and its text. -/
structure Word where
  start : Nat
  stop : Nat
  text : String
  deriving Inhabited, Repr, BEq

private def slice (cs : Array Char) (start stop : Nat) : String :=
  String.ofList (cs.extract start stop).toList

/-- The word that ends at `cursor` (what completion completes): identifier characters and dots
to the left of the cursor, with a leading `#` if there is one (`#ev` → `#eval`). A cursor past the
end counts as the end. -/
def wordBefore (code : String) (cursor : Nat) : Word := Id.run do
  let cs := code.toList.toArray
  let stop := min cursor cs.size
  let mut start := stop
  while 0 < start do
    if isWordChar cs[start - 1]! then start := start - 1 else break
  if 0 < start then
    if cs[start - 1]! == '#' then start := start - 1
  return { start, stop, text := slice cs start stop }

/-- The identifier around `cursor` (what inspection explains): identifier characters and dots on
both sides of the cursor, leading and trailing dots dropped (`Nat.succ.` → `Nat.succ`). -/
def wordAt (code : String) (cursor : Nat) : Word := Id.run do
  let cs := code.toList.toArray
  let pos := min cursor cs.size
  let mut start := pos
  while 0 < start do
    if isWordChar cs[start - 1]! then start := start - 1 else break
  let mut stop := pos
  while stop < cs.size do
    if isWordChar cs[stop]! then stop := stop + 1 else break
  while start < stop do
    if cs[start]! == '.' then start := start + 1 else break
  while start < stop do
    if cs[stop - 1]! == '.' then stop := stop - 1 else break
  return { start, stop, text := slice cs start stop }

/-- A piece of text output: plain text, or the JSON payload of a display frame. -/
inductive Piece where
  | text (s : String)
  | frame (payload : String)
  deriving Inhabited, Repr, BEq

/-- Cuts text output into plain text and display frames (see `XLean.Display`). A start marker
without an end marker is left in the text as it is. Empty text pieces are dropped. -/
def splitFrames (s : String) : Array Piece := Id.run do
  match s.splitOn Display.frameStart with
  | [] => return #[]
  | first :: rest =>
    let mut out : Array Piece := #[]
    let mut pending := first
    for chunk in rest do
      match chunk.splitOn Display.frameEnd with
      | payload :: after :: more =>
        if !pending.isEmpty then out := out.push (.text pending)
        out := out.push (.frame payload)
        pending := Display.frameEnd.intercalate (after :: more)
      | _ => pending := pending ++ Display.frameStart ++ chunk
    if !pending.isEmpty then out := out.push (.text pending)
    return out

/-- Does the text contain a display frame? (Cheap test before `splitFrames`.) -/
def hasFrame (s : String) : Bool :=
  (s.splitOn Display.frameStart).length > 1

/-- `s` without the line breaks at its end (Lean ends most message texts with one). -/
def dropTrailingNewlines (s : String) : String :=
  String.ofList (s.toList.reverse.dropWhile (fun c => c == '\n' || c == '\r')).reverse

/-- Decodes UTF-8, replacing each byte that does not start a well-formed sequence by U+FFFD, so
that whatever a cell's code writes to a stream becomes valid text (Jupyter's JSON serialiser
rejects invalid UTF-8 and the cell would hang). Overlong forms and surrogates count as
ill-formed. -/
def decodeUtf8Lossy (b : ByteArray) : String := Id.run do
  let n := b.size
  let cont (i : Nat) : Option Nat :=
    if i < n then
      let x := b[i]!.toNat
      if x &&& 0xC0 == 0x80 then some (x &&& 0x3F) else none
    else none
  let mut out := ""
  let mut i := 0
  while i < n do
    let x := b[i]!.toNat
    if x < 0x80 then
      out := out.push (Char.ofNat x); i := i + 1
    else
      -- (length, first-byte payload, smallest code point allowed for that length)
      let (len, init, least) :=
        if x &&& 0xE0 == 0xC0 then (2, x &&& 0x1F, 0x80)
        else if x &&& 0xF0 == 0xE0 then (3, x &&& 0x0F, 0x800)
        else if x &&& 0xF8 == 0xF0 then (4, x &&& 0x07, 0x10000)
        else (0, 0, 0)
      let mut cp := init
      let mut ok : Bool := len > 0
      for k in [1:len] do
        match cont (i + k) with
        | some y => cp := cp * 64 + y
        | none => ok := false
      if ok && cp ≥ least && cp ≤ 0x10FFFF && !(0xD800 ≤ cp && cp ≤ 0xDFFF) then
        out := out.push (Char.ofNat cp); i := i + len
      else
        out := out.push '\uFFFD'; i := i + 1
  return out

/-- Line (from 1) and column (from 0, in code points) just after the last character of `code`
that is not white space: where a parser that ran out of input reports its error. -/
def endOfContent (code : String) : Nat × Nat := Id.run do
  let mut line := 1
  let mut col := 0
  let mut last := (1, 0)
  for c in code.toList do
    if c == '\n' then
      line := line + 1; col := 0
    else
      col := col + 1
      if !c.isWhitespace then last := (line, col)
  return last

end XLean.Text
