/-
The Lean side of the xlean Jupyter kernel (see `docs/kernel.md`).

* `XLean.Display` — rich output for users (`#eval XLean.Display.html "…"`); imports only `Init`.
* `XLean.Text` — cursor words, display frames, UTF-8 repair; imports only `Init`.
* `XLean.Protocol` — the JSON replies; imports only `Lean.Data.Json`.
* `XLean.Repl` — the notebook session over Lean's synchronous frontend.
* `XLean.Export` — the `@[export xlean_*]` C interface.

The C side initialises this module with `initialize_XLean(1, lean_io_mk_world())`.
-/
import XLean.Display
import XLean.Text
import XLean.Protocol
import XLean.Repl
import XLean.Export
