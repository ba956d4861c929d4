module

/-
Rich display for the xlean Jupyter kernel.

A `XLean.Display` is a MIME bundle: one output shown by Jupyter in the richest form the front end
supports (`text/html`, `text/markdown`, `text/latex`, `image/svg+xml`, `application/json`, with
`text/plain` as the fallback). Users produce one with `#eval`:

    import XLean.Display
    #eval XLean.Display.html "<b>bold</b>"
    #eval XLean.Display.markdown "# Title" |>.withPlain "Title"
    #eval do XLean.Display.show (.latex "$x^2$"); IO.println "after"

How it reaches Jupyter: the value renders (through `Repr`/`ToString`, which `#eval` uses) as a
frame `"\x02xlean.display\x1f" ++ json ++ "\x03"`, where `json` is a JSON object from MIME type to
content. Lean puts `#eval` output into an information message; the kernel (`XLean.Output`) cuts
each frame out of message text and captured stdout and turns it into a display output, keeping the
text around it as an ordinary message. The control characters STX, US and ETX never occur inside
the JSON (JSON escapes every control character), so a frame ends at the first ETX.

This module imports only `Init`, so the kernel can import it into every session cheaply, and it has
no state: a display travels as text through Lean's own output paths, whether the code that made
it runs natively or in the IR interpreter.
-/

public section
namespace XLean

/-- One rich output: MIME type ↦ content, in the order given (no two entries share a type). -/
structure Display where
  bundle : Array (String × String) := #[]
  deriving Inhabited, BEq

namespace Display

/-- Start of a display frame in text output: STX, the tag, US. -/
def frameStart : String := "\x02xlean.display\x1f"
/-- End of a display frame: ETX. -/
def frameEnd : String := "\x03"

/-- `s` as a JSON string literal (quotes included); escapes `"`, `\` and every control character,
so the result never contains STX/US/ETX. -/
def jsonQuote (s : String) : String :=
  let hex (n : Nat) : Char := if n < 10 then Char.ofNat (48 + n) else Char.ofNat (87 + n)
  let body := s.foldl (init := "") fun acc c =>
    match c with
    | '"' => acc ++ "\\\""
    | '\\' => acc ++ "\\\\"
    | '\n' => acc ++ "\\n"
    | '\r' => acc ++ "\\r"
    | '\t' => acc ++ "\\t"
    | c =>
      if c.toNat < 0x20 || c.toNat == 0x7f then
        let n := c.toNat
        acc ++ "\\u00" |>.push (hex (n / 16)) |>.push (hex (n % 16))
      else acc.push c
  "\"" ++ body ++ "\""

/-- Adds (or replaces) the content for one MIME type. -/
def set (d : Display) (mime data : String) : Display :=
  match d.bundle.findIdx? (·.1 == mime) with
  | some i => { bundle := d.bundle.set! i (mime, data) }
  | none => { bundle := d.bundle.push (mime, data) }

/-- A display with a single MIME type. For `application/json` (and `…+json`), `data` is JSON
text; the kernel parses it and sends the value, not a string. -/
def mime (type data : String) : Display := ({} : Display).set type data

def plain (s : String) : Display := mime "text/plain" s
def html (s : String) : Display := mime "text/html" s
def markdown (s : String) : Display := mime "text/markdown" s
/-- LaTeX, e.g. `"$\\frac{1}{2}$"` (Jupyter renders math mode through MathJax/KaTeX). -/
def latex (s : String) : Display := mime "text/latex" s
def svg (s : String) : Display := mime "image/svg+xml" s
/-- JSON text, e.g. `"{\"a\": 1}"`. -/
def json (s : String) : Display := mime "application/json" s

/-- The `text/plain` fallback shown by front ends that cannot render the richer types. -/
def withPlain (d : Display) (s : String) : Display := d.set "text/plain" s

/-- Alternatives for one output: entries of `e` are added to (or replace those of) `d`. -/
instance : Append Display where
  append d e := e.bundle.foldl (init := d) fun acc (m, v) => acc.set m v

/-- Is the content of this MIME type JSON text rather than a string (`application/json`,
`application/vnd.foo+json`)? -/
def isJsonMime (mime : String) : Bool :=
  mime == "application/json" || mime.endsWith "+json"

/-- The frame that carries `d` through text output (see the module comment). Contents are JSON
strings, except for JSON MIME types, whose JSON text is inserted as it is, so that the payload is
the MIME bundle exactly as Jupyter wants it. -/
def encode (d : Display) : String :=
  let fields := d.bundle.toList.map fun (m, v) =>
    jsonQuote m ++ ":" ++ (if isJsonMime m then v else jsonQuote v)
  frameStart ++ "{" ++ ",".intercalate fields ++ "}" ++ frameEnd

instance : ToString Display := ⟨encode⟩
instance : Repr Display := ⟨fun d _ => Std.Format.text d.encode⟩

/-- Emits `d` from inside `IO` code (e.g. several displays from one `#eval`). -/
def «show» (d : Display) : IO Unit := IO.print d.encode

end Display
end XLean
