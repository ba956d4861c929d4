/*
 * xlean_backend.h: the seam between the xeus interpreter (C++) and the language behind it.
 *
 * Two implementations link against this interface, exactly one per module:
 *   - backend_lean.c: the real one, over the `@[export xlean_*]` functions of our Lean REPL
 *     module (lean-wasm/XLean), called through the Lean runtime's C API;
 *   - backend_test.c: a small deterministic stand-in with no Lean in it, used only to test the
 *     interpreter, the JS glue and the build (see docs/kernel-shell.md for its mini-language).
 *
 * The interface is plain C so that the real backend can be compiled as C next to Lean's emitted
 * C, and so that nothing C++ (exceptions, std::string) crosses into Lean.
 *
 * Conventions, for every function below:
 *   - Strings in are NUL-terminated UTF-8 and are only read during the call (the caller keeps
 *     ownership).
 *   - Every reply is one JSON object, as a NUL-terminated string allocated with malloc(). The
 *     caller owns it and releases it with xlean_backend_free() (never with delete, never twice).
 *     NULL means the backend could not even build a reply (out of memory); the interpreter turns
 *     that into an error reply.
 *   - A reply is usually valid UTF-8, but the interpreter does not rely on it: it repairs the
 *     bytes (U+FFFD for each invalid sequence) before parsing, so a backend bug can never stop a
 *     reply from reaching Jupyter.
 *   - Cursor positions are offsets in Unicode code points from the start of `code`, as in the
 *     Jupyter protocol (5.2 and later) and as Lean counts columns. Replies use the same unit.
 *   - Every reply has "status": "ok" or "error". An "error" reply may carry "ename", "evalue" and
 *     "traceback" (array of strings) like a Jupyter error.
 *   - Calls are made from one thread, one at a time; a backend needs no locking.
 *
 * The reply shapes are documented in docs/kernel-shell.md ("The C interface") and, for the real
 * backend, produced by lean-wasm/XLean/Protocol.lean.
 */
#ifndef XLEAN_BACKEND_H
#define XLEAN_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the backend: for Lean, the runtime, the module initialisers and the REPL state (search
 * path from LEAN_PATH / LEAN_SYSROOT). `options_json` is a JSON object (may be NULL: defaults).
 * Called once, before any other call. Reply: {"status", "error"?, ...}. After an "error" reply
 * the other functions still answer, with an error that repeats why the backend is unusable. */
char *xlean_backend_init(const char *options_json);

/* What the backend is, for kernel_info: {"name", "language_version", "banner"?}. Callable before
 * init. */
char *xlean_backend_info(void);

/* Elaborates one cell. `execution_count` is the Jupyter cell number (1, 2, ...).
 * Reply: {"status": "ok"|"error", "outputs": [output...], "ename"?, "evalue"?}, where each output
 * is, in the order the cell produced them:
 *   {"kind": "message", "severity": "info"|"warning"|"error", "line", "col", "end_line",
 *    "end_col", "text"}                      (line from 1, col from 0, in code points)
 *   {"kind": "display", "data": {MIME type: content, ...}}
 *   {"kind": "stream", "name": "stdout"|"stderr", "text"}
 * "status" is "error" when some message is an error. */
char *xlean_backend_execute(const char *code, uint32_t execution_count);

/* Completion at `cursor_pos`. Reply: {"status", "matches": [string...], "cursor_start",
 * "cursor_end", "items"?: [{"text", "kind"}...]}. */
char *xlean_backend_complete(const char *code, uint32_t cursor_pos);

/* What is under `cursor_pos`. Reply: {"status", "found": bool, "data": {MIME type: text}}. */
char *xlean_backend_inspect(const char *code, uint32_t cursor_pos, uint32_t detail_level);

/* Could `code` be run as it is? Reply: {"status": "complete"|"incomplete"|"invalid"|"unknown",
 * "indent"?: string}. (Here "status" is the Jupyter is_complete status, not ok/error.) */
char *xlean_backend_is_complete(const char *code);

/* Releases a reply returned by any function above. NULL is allowed. */
void xlean_backend_free(char *reply);

#ifdef __cplusplus
}
#endif

#endif /* XLEAN_BACKEND_H */
