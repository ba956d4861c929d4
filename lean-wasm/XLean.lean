module

/-
The Lean side of the xlean Jupyter kernel (see `docs/kernel.md`).

* `XLean.Display` — rich output for users (`#eval XLean.Display.html "…"`); imports only `Init`.
* `XLean.Text` — cursor words, display frames, UTF-8 repair; imports only `Init`.
* `XLean.Protocol` — the JSON replies; imports only `Lean.Data.Json`.
* `XLean.Repl` — the notebook session over Lean's synchronous frontend.
* `XLean.Export` — the `@[export xlean_*]` C interface.

The C side initialises this module with `initialize_XLean(1)` (the 4.28 compiler erases the world token).
-/
public import XLean.Display
public import XLean.Text
public import XLean.Protocol
public import XLean.Repl
public import XLean.Export
